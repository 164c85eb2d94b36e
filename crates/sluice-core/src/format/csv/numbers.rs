//! Numbers written with a decimal comma (`1.234,56`, `-0,5`), as European exports with `;`
//! delimiters write them: recognised for detection, and rewritten as `1234.56` for loading.

/// `text` as a number with a decimal point, if it is one written with a decimal comma
/// (and optional dot thousands separators); `None` otherwise.
pub fn decimal_comma(text: &str) -> Option<String> {
    let t = text.trim();
    let (sign, digits) = match t.strip_prefix(['-', '+']) {
        Some(rest) => (&t[..1], rest),
        None => ("", t),
    };
    let (int, frac) = match digits.split_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    // Dot thousands: 1.234.567 — groups of three after the first.
    let groups: Vec<&str> = int.split('.').collect();
    let grouped = groups.len() > 1;
    let valid_groups = !groups[0].is_empty()
        && groups[0].len() <= if grouped { 3 } else { usize::MAX }
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
        && groups[1..].iter().all(|g| g.len() == 3);
    if !valid_groups || (frac.is_none() && !grouped) {
        // `12` is an integer either way; `1.5` without a comma is not this notation.
        return None;
    }
    let mut out = String::with_capacity(t.len());
    out.push_str(sign);
    out.push_str(&groups.concat());
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_decimal_commas_and_dot_thousands() {
        assert_eq!(decimal_comma("1.234,56").as_deref(), Some("1234.56"));
        assert_eq!(decimal_comma("-0,5").as_deref(), Some("-0.5"));
        assert_eq!(decimal_comma("12,0").as_deref(), Some("12.0"));
        assert_eq!(decimal_comma("1.234.567").as_deref(), Some("1234567"));
        for not in ["12", "1.5", "1,", "1.23,4", "a,5", ",5", "1.2345,6", ""] {
            assert_eq!(decimal_comma(not), None, "{not}");
        }
    }
}

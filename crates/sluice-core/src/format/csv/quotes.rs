//! Finding a quote that never closes: a quoted field cut off by the end of the file swallows
//! every line after it into one value, which the CSV parser accepts silently. This follows
//! the quoting as the parser does (a quote opens a field only at its start; `""` inside a
//! quoted field is a quote) and remembers the line where the open field began.

/// Where a scan of CSV bytes stands, kept across chunks.
#[derive(Debug, Clone)]
pub(crate) struct QuoteTracker {
    delimiter: u8,
    quote: u8,
    state: State,
    /// The 1-based line of the next byte.
    line: u64,
    /// The line the open quoted field began on.
    opened: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field (or after a closed quoted one): quotes are literal.
    Unquoted,
    Quoted,
    /// In a quoted field, just after a quote: another quote is an escaped quote.
    QuoteInQuoted,
}

impl QuoteTracker {
    pub(crate) fn new(delimiter: u8, quote: u8) -> Self {
        Self {
            delimiter,
            quote,
            state: State::FieldStart,
            line: 1,
            opened: 0,
        }
    }

    /// Feeds the next bytes of the file.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::FieldStart => {
                    if bytes[i] == self.quote {
                        self.state = State::Quoted;
                        self.opened = self.line;
                        i += 1;
                    } else {
                        self.state = State::Unquoted;
                    }
                }
                State::Unquoted => {
                    // Skip to the next field or line end; quotes here are literal.
                    match memchr::memchr2(self.delimiter, b'\n', &bytes[i..]) {
                        Some(k) => {
                            if bytes[i + k] == b'\n' {
                                self.line += 1;
                            }
                            self.state = State::FieldStart;
                            i += k + 1;
                        }
                        None => i = bytes.len(),
                    }
                }
                State::Quoted => match memchr::memchr(self.quote, &bytes[i..]) {
                    Some(k) => {
                        self.line += memchr::memchr_iter(b'\n', &bytes[i..i + k]).count() as u64;
                        self.state = State::QuoteInQuoted;
                        i += k + 1;
                    }
                    None => {
                        self.line += memchr::memchr_iter(b'\n', &bytes[i..]).count() as u64;
                        i = bytes.len();
                    }
                },
                State::QuoteInQuoted => {
                    if bytes[i] == self.quote {
                        self.state = State::Quoted;
                        i += 1;
                    } else {
                        // The field closed; what follows it is read as unquoted text.
                        self.state = State::Unquoted;
                    }
                }
            }
        }
    }

    /// The 1-based line of the next byte.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// At the end of the file: the line of a quoted field that never closed.
    pub(crate) fn unclosed(&self) -> Option<u64> {
        (self.state == State::Quoted).then_some(self.opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unclosed(text: &str, chunk: usize) -> Option<u64> {
        let mut t = QuoteTracker::new(b',', b'"');
        for c in text.as_bytes().chunks(chunk) {
            t.feed(c);
        }
        t.unclosed()
    }

    #[test]
    fn finds_the_line_an_unclosed_quote_opened_on_at_any_chunk_size() {
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(unclosed("a,b\n1,\"x\n2,y\n", chunk), Some(2), "{chunk}");
            assert_eq!(
                unclosed("a,b\n1,\"x\"\"y\n\"\n2,z\n", chunk),
                None,
                "{chunk}"
            );
            assert_eq!(
                unclosed("a,b\n1,5'11\" tall\n2,z\n", chunk),
                None,
                "{chunk}"
            );
            assert_eq!(unclosed("\"", chunk), Some(1), "{chunk}");
            assert_eq!(unclosed("\"\"", chunk), None, "{chunk}");
            assert_eq!(unclosed("a\n\"b\"\"\n", chunk), Some(2), "{chunk}");
            assert_eq!(unclosed("a,\"b\"c,d\n", chunk), None, "{chunk}");
        }
    }
}

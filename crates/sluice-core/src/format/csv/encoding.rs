//! Text encodings of CSV files: any encoding the WHATWG Encoding Standard names (through
//! encoding_rs), detected from a sample rather than assumed.
//!
//! Detection, in order: a byte-order mark (UTF-8, UTF-16 LE/BE) is certain; a sample whose
//! every other byte is NUL is UTF-16 without a mark; bytes that are valid UTF-8 are UTF-8;
//! anything else is chardetng's guess (the detector Firefox uses), with how sure it is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A text encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encoding(&'static encoding_rs::Encoding);

impl Encoding {
    pub const UTF8: Self = Self(encoding_rs::UTF_8);
    pub const UTF16LE: Self = Self(encoding_rs::UTF_16LE);
    pub const UTF16BE: Self = Self(encoding_rs::UTF_16BE);
    /// ISO-8859-1 and its superset Windows-1252, decoded as Windows-1252 as browsers do.
    pub const LATIN1: Self = Self(encoding_rs::WINDOWS_1252);

    /// The encoding_rs encoding, to decode with.
    pub fn codec(self) -> &'static encoding_rs::Encoding {
        self.0
    }

    pub fn is_utf8(self) -> bool {
        self == Self::UTF8
    }

    /// Its name as options write it: `utf-8`, `latin-1`, `utf-16le`, `shift_jis` …
    pub fn name(self) -> String {
        if self == Self::LATIN1 {
            return "latin-1".into();
        }
        self.0.name().to_ascii_lowercase()
    }
}

impl Default for Encoding {
    fn default() -> Self {
        Self::UTF8
    }
}

impl fmt::Debug for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let label = s.trim().to_ascii_lowercase();
        let label = match label.as_str() {
            "latin-1" | "iso8859-1" | "cp1252" => "windows-1252",
            "utf8" => "utf-8",
            "utf-16" => "utf-16le",
            "shift-jis" | "sjis" => "shift_jis",
            other => other,
        };
        match encoding_rs::Encoding::for_label(label.as_bytes()) {
            // The replacement encoding is a decoder of last resort, not a file's encoding.
            Some(e) if e != encoding_rs::REPLACEMENT && e != encoding_rs::X_USER_DEFINED => {
                Ok(Self(e))
            }
            _ => Err(format!(
                "unknown encoding '{}'; for example utf-8, utf-16le, utf-16be, latin-1, windows-1250, shift_jis, gbk, big5 or euc-kr",
                s.trim()
            )),
        }
    }
}

impl Serialize for Encoding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Encoding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How sure detection is of an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A byte-order mark, or valid UTF-8.
    Certain,
    /// The detector's guess is well ahead of the next.
    High,
    /// A guess: check the sample values, and set the encoding if they look wrong.
    Low,
}

/// The encoding detection found, how sure it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodingGuess {
    pub encoding: Encoding,
    pub confidence: Confidence,
    pub reason: String,
}

/// The encoding of a sample's bytes.
pub fn detect(sample: &[u8]) -> EncodingGuess {
    let guess = |encoding, confidence, reason: &str| EncodingGuess {
        encoding,
        confidence,
        reason: reason.to_string(),
    };
    if sample.starts_with(b"\xEF\xBB\xBF") {
        return guess(Encoding::UTF8, Confidence::Certain, "UTF-8 byte-order mark");
    }
    if sample.starts_with(b"\xFF\xFE") {
        return guess(
            Encoding::UTF16LE,
            Confidence::Certain,
            "UTF-16 LE byte-order mark",
        );
    }
    if sample.starts_with(b"\xFE\xFF") {
        return guess(
            Encoding::UTF16BE,
            Confidence::Certain,
            "UTF-16 BE byte-order mark",
        );
    }
    let head = &sample[..sample.len().min(64 * 1024)];
    if head.len() >= 4 {
        let nul_at = |parity: usize| {
            head.iter()
                .skip(parity)
                .step_by(2)
                .filter(|b| **b == 0)
                .count()
        };
        let pairs = head.len() / 2;
        if nul_at(1) * 10 >= pairs * 8 && nul_at(0) * 10 < pairs {
            return guess(
                Encoding::UTF16LE,
                Confidence::High,
                "every other byte is NUL",
            );
        }
        if nul_at(0) * 10 >= pairs * 8 && nul_at(1) * 10 < pairs {
            return guess(
                Encoding::UTF16BE,
                Confidence::High,
                "every other byte is NUL",
            );
        }
    }
    match std::str::from_utf8(sample) {
        Ok(_) => return guess(Encoding::UTF8, Confidence::Certain, "valid UTF-8"),
        // A sample cut inside a character is still UTF-8.
        Err(e) if e.error_len().is_none() => {
            return guess(Encoding::UTF8, Confidence::Certain, "valid UTF-8");
        }
        Err(_) => {}
    }
    // Valid UTF-8 characters beside invalid bytes: UTF-8 gone wrong, not another encoding
    // (a legacy encoding would read those characters as two or three others).
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in sample.utf8_chunks() {
        valid += chunk.valid().chars().filter(|ch| !ch.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    if valid > 0 && valid >= invalid {
        return guess(
            Encoding::UTF8,
            Confidence::Low,
            "UTF-8 characters beside bytes that are not UTF-8",
        );
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, true);
    let best = Encoding(detector.guess(None, chardetng::Utf8Detection::Deny));
    // How the guess reads: many non-ASCII characters, all letters, none undecodable, is
    // a clear call; a few, or symbols and control characters, is a guess.
    let text = decode_all(sample, best);
    let (mut letters, mut others) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        if c.is_alphabetic() {
            letters += 1;
        } else {
            others += 1;
        }
    }
    let confidence = if letters >= 20 && others * 10 <= letters {
        Confidence::High
    } else {
        Confidence::Low
    };
    EncodingGuess {
        encoding: best,
        confidence,
        reason: format!(
            "not UTF-8; guessed from the bytes ({letters} non-ASCII letters read as {})",
            best.name()
        ),
    }
}

/// Decodes text of `encoding` into UTF-8, chunk by chunk; a byte-order mark is dropped.
#[derive(Debug)]
pub struct Decoder {
    inner: Option<encoding_rs::Decoder>,
    at_start: bool,
}

impl Decoder {
    pub fn new(encoding: Encoding) -> Self {
        Self {
            // UTF-8 is passed through (after its mark, if any) and checked by the reader.
            inner: (!encoding.is_utf8()).then(|| encoding.codec().new_decoder_with_bom_removal()),
            at_start: true,
        }
    }

    /// The UTF-8 text of the next chunk (`last` for the file's end). Bytes that are not
    /// valid in the encoding become U+FFFD, as text tools do.
    pub fn decode(&mut self, chunk: bytes::Bytes, last: bool) -> bytes::Bytes {
        let first = std::mem::take(&mut self.at_start);
        match &mut self.inner {
            None => {
                if first && chunk.starts_with(b"\xEF\xBB\xBF") {
                    chunk.slice(3..)
                } else {
                    chunk
                }
            }
            Some(decoder) => {
                let mut out = String::with_capacity(
                    decoder
                        .max_utf8_buffer_length(chunk.len())
                        .unwrap_or(chunk.len() * 3),
                );
                let _ = decoder.decode_to_string(&chunk, &mut out, last);
                bytes::Bytes::from(out)
            }
        }
    }

    /// Whether bytes pass through undecoded (UTF-8).
    pub fn is_passthrough(&self) -> bool {
        self.inner.is_none()
    }
}

/// A whole sample's text in `encoding`.
pub fn decode_all(sample: &[u8], encoding: Encoding) -> String {
    let mut d = Decoder::new(encoding);
    let out = d.decode(bytes::Bytes::copy_from_slice(sample), true);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_as_options_write_them() {
        for (given, shown) in [
            ("utf-8", "utf-8"),
            ("UTF8", "utf-8"),
            ("latin-1", "latin-1"),
            ("iso-8859-1", "latin-1"),
            ("windows-1252", "latin-1"),
            ("utf-16", "utf-16le"),
            ("UTF-16BE", "utf-16be"),
            ("Shift-JIS", "shift_jis"),
            ("cp1250", "windows-1250"),
            ("gb2312", "gbk"),
        ] {
            let e: Encoding = given.parse().unwrap();
            assert_eq!(e.name(), shown, "{given}");
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(serde_json::from_value::<Encoding>(json).unwrap(), e);
        }
        let err = "klingon".parse::<Encoding>().unwrap_err();
        assert!(err.contains("unknown encoding 'klingon'"), "{err}");
    }

    #[test]
    fn detects_marks_utf16_utf8_and_legacy_encodings() {
        let utf16le: Vec<u8> = "id,name\n1,Zoë\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(detect(&utf16le).encoding, Encoding::UTF16LE);
        let mut marked = vec![0xFF, 0xFE];
        marked.extend(&utf16le);
        assert_eq!(
            (detect(&marked).encoding, detect(&marked).confidence),
            (Encoding::UTF16LE, Confidence::Certain)
        );
        let utf16be: Vec<u8> = "id,name\n1,Zoë\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(detect(&utf16be).encoding, Encoding::UTF16BE);
        assert_eq!(
            detect("id,név\n1,Zoë\n".as_bytes()).encoding,
            Encoding::UTF8
        );

        let text = "id,city,note\n1,München,Grüße aus der Straße\n2,Köln,schön größer\n";
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let g = detect(&latin1);
        assert_eq!(g.encoding, Encoding::LATIN1, "{g:?}");
        let text = "id,name,city\n1,山田太郎,東京都千代田区\n2,鈴木花子,大阪市北区梅田\n3,佐藤一郎,名古屋市中区栄\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let g = detect(&sjis);
        assert_eq!(g.encoding.name(), "shift_jis", "{g:?}");
        assert_eq!(decode_all(&sjis, g.encoding), text);
    }

    #[test]
    fn decodes_across_chunks_and_drops_the_mark() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend("a,é\n".encode_utf16().flat_map(u16::to_le_bytes));
        let mut d = Decoder::new(Encoding::UTF16LE);
        let mut out = Vec::new();
        // A chunk boundary inside a code unit.
        for (i, c) in bytes.chunks(3).enumerate() {
            let last = (i + 1) * 3 >= bytes.len();
            out.extend(d.decode(bytes::Bytes::copy_from_slice(c), last));
        }
        assert_eq!(String::from_utf8(out).unwrap(), "a,é\n");
        let mut d = Decoder::new(Encoding::UTF8);
        assert_eq!(
            d.decode(bytes::Bytes::from_static(b"\xEF\xBB\xBFid\n"), false),
            bytes::Bytes::from_static(b"id\n")
        );
    }
}

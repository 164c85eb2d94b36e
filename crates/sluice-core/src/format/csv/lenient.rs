//! Records a reader cannot read (a CSV line of the wrong width, a JSON line that is not
//! JSON), kept in the stream for quarantine. A reader refuses a whole file for one such
//! record; when a job quarantines bad rows, each becomes a row whose every text field is
//! [`BAD_RECORD`] followed by what is wrong and the record's text ([`mark`]). The row keeps
//! its place (and record number), and the stage that types rows rejects it with that text.

/// What each field of a record of the wrong width starts with.
pub const BAD_RECORD: &str = "\u{1}sluice:bad-record\u{1}";

/// A record a reader could not read, as [`bad_record`] reads it back from a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord<'a> {
    /// What is wrong with it, for people.
    pub error: &'a str,
    pub text: &'a str,
}

/// What stands in a text field for a record that could not be read.
pub fn mark(error: &str, text: &str) -> String {
    format!("{BAD_RECORD}{}\u{1}{text}", error.replace('\u{1}', " "))
}

/// The bad record a field stands for, if it is one.
pub fn bad_record(value: &str) -> Option<BadRecord<'_>> {
    let (error, text) = value.strip_prefix(BAD_RECORD)?.split_once('\u{1}')?;
    Some(BadRecord { error, text })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// In a quoted field, just after a quote: another quote is an escaped quote.
    QuoteInQuoted,
    /// In a quoted field, just after the escape character.
    Escaped,
}

/// Follows the records of CSV text across chunks, passing those of the right width through
/// and replacing the others.
#[derive(Debug)]
pub(crate) struct RecordFilter {
    delimiter: u8,
    quote: u8,
    escape: Option<u8>,
    comment: Option<u8>,
    /// The width records must have: the header's (its first record's), or the job's.
    expected: Option<usize>,
    state: State,
    fields: usize,
    /// The current record's bytes so far.
    record: Vec<u8>,
}

impl RecordFilter {
    /// A filter for records of `expected` fields, or of the first record's width.
    pub(crate) fn new(
        delimiter: u8,
        quote: u8,
        escape: Option<u8>,
        comment: Option<u8>,
        expected: Option<usize>,
    ) -> Self {
        Self {
            delimiter,
            quote,
            escape: escape.filter(|e| *e != quote),
            comment,
            expected,
            state: State::FieldStart,
            fields: 1,
            record: Vec::new(),
        }
    }

    /// The next chunk of text as the parser should see it: complete records, each of the
    /// right width; a record the chunk ends inside waits for the next (or for `last`).
    pub(crate) fn feed(&mut self, chunk: &[u8], last: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 64);
        for &b in chunk {
            self.record.push(b);
            match self.state {
                State::FieldStart if b == self.quote => self.state = State::Quoted,
                // `""` inside a quoted field is a quote; any other byte after a quote
                // closes the field and is read as unquoted text.
                State::QuoteInQuoted if b == self.quote => self.state = State::Quoted,
                State::FieldStart | State::Unquoted | State::QuoteInQuoted => {
                    if b == self.delimiter {
                        self.fields += 1;
                        self.state = State::FieldStart;
                    } else if b == b'\n' {
                        self.end_record(&mut out);
                    } else {
                        self.state = State::Unquoted;
                    }
                }
                State::Quoted => {
                    if Some(b) == self.escape {
                        self.state = State::Escaped;
                    } else if b == self.quote {
                        self.state = State::QuoteInQuoted;
                    }
                }
                State::Escaped => self.state = State::Quoted,
            }
        }
        if last && !self.record.is_empty() {
            // A last record without a line end (an unclosed quote is refused elsewhere).
            self.record.push(b'\n');
            self.end_record(&mut out);
            if out.ends_with(b"\n") {
                out.pop();
            }
        }
        out
    }

    fn end_record(&mut self, out: &mut Vec<u8>) {
        let fields = std::mem::replace(&mut self.fields, 1);
        self.state = State::FieldStart;
        let record = std::mem::take(&mut self.record);
        let body = record
            .strip_suffix(b"\n")
            .map(|r| r.strip_suffix(b"\r").unwrap_or(r))
            .unwrap_or(&record);
        // Blank lines and comments are the parser's to skip.
        let passes =
            body.is_empty() || (self.comment.is_some() && body.first() == self.comment.as_ref());
        if passes {
            out.extend_from_slice(&record);
            return;
        }
        let expected = *self.expected.get_or_insert(fields);
        if fields == expected {
            out.extend_from_slice(&record);
            return;
        }
        let text = String::from_utf8_lossy(body);
        let field = mark(
            &format!("the line has {fields} field(s) where the header has {expected}"),
            &text,
        );
        let quoted = {
            let q = self.quote as char;
            let doubled = field.replace(q, &format!("{q}{q}"));
            format!("{q}{doubled}{q}")
        };
        for i in 0..expected {
            if i > 0 {
                out.push(self.delimiter);
            }
            out.extend_from_slice(quoted.as_bytes());
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(text: &str, chunk: usize) -> String {
        let mut f = RecordFilter::new(b',', b'"', None, Some(b'#'), None);
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(chunk).collect();
        for (i, c) in chunks.iter().enumerate() {
            out.extend(f.feed(c, i + 1 == chunks.len()));
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_of_the_wrong_width_are_replaced_at_any_chunk_size() {
        let text = "a,b\n1,\"x,\ny\"\n2,y,extra\n# note\n\n3\n4,\"q\"\"\"";
        for chunk in [1, 2, 5, 1000] {
            let out = filtered(text, chunk);
            let lines: Vec<&str> = out.split('\n').collect();
            assert_eq!(lines[0], "a,b");
            assert_eq!(lines[1..3].join("\n"), "1,\"x,\ny\"", "{chunk}");
            let bad = format!(
                "\"{}\"",
                mark(
                    "the line has 3 field(s) where the header has 2",
                    "2,y,extra"
                )
            );
            assert_eq!(lines[3], format!("{bad},{bad}"), "{chunk}");
            assert_eq!((lines[4], lines[5]), ("# note", ""), "{chunk}");
            assert!(
                lines[6].starts_with(&format!(
                    "\"{}\"",
                    mark("the line has 1 field(s) where the header has 2", "3")
                )),
                "{chunk}"
            );
            assert_eq!(lines[7], "4,\"q\"\"\"", "{chunk}");
        }
        let field = mark("3 fields", "2,\"y\",extra");
        assert_eq!(
            bad_record(&field),
            Some(BadRecord {
                error: "3 fields",
                text: "2,\"y\",extra"
            })
        );
        assert_eq!(bad_record("2"), None);
    }
}

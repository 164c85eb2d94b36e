//! Splitting a byte stream into top-level JSON records without parsing them.

use crate::format::MAX_RECORD_BYTES;
use crate::{Error, Result};

/// Splits a byte stream into top-level JSON records: the values of a top-level array, or
/// whitespace-separated values (JSONL).
#[derive(Debug, Default)]
pub(crate) struct RecordSplitter {
    pending: Vec<u8>,
    /// Bytes of `pending` already scanned.
    scanned: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Whether the first non-blank byte was `[`: records are then at depth 1.
    array: Option<bool>,
    record_start: Option<usize>,
    /// The record in progress is a bare scalar (an error the caller reports).
    scalar: bool,
    /// Line (1-based) at `scanned`, and where the current record started.
    line: u64,
    record_line: u64,
    /// The file, for errors.
    path: String,
}

impl RecordSplitter {
    pub(crate) fn new(path: &str) -> Self {
        Self {
            line: 1,
            path: path.to_string(),
            ..Default::default()
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
    }

    /// The next complete record and the line it starts on.
    ///
    /// A record that is not an object or array (a bare scalar) runs to the end of its line
    /// and is returned whole, for the caller to reject.
    ///
    /// # Errors
    /// A record larger than [`MAX_RECORD_BYTES`], as soon as that much of it is pushed.
    pub(crate) fn next_record(&mut self) -> Option<Result<(Vec<u8>, u64)>> {
        while self.scanned < self.pending.len() {
            let i = self.scanned;
            let b = self.pending[i];
            self.scanned += 1;
            if b == b'\n' {
                self.line += 1;
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            let record_depth = u32::from(self.array == Some(true));
            if self.record_start.is_none() {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'[' if self.array.is_none() => {
                        self.array = Some(true);
                        self.depth = 1;
                        continue;
                    }
                    b',' if self.array == Some(true) => continue,
                    b']' if self.array == Some(true) && self.depth == 1 => {
                        self.depth = 0;
                        continue;
                    }
                    _ => {
                        self.array.get_or_insert(false);
                        self.record_start = Some(i);
                        self.record_line = self.line - u64::from(b == b'\n');
                        self.scalar = !matches!(b, b'{' | b'[');
                    }
                }
            }
            if self.scalar {
                if b == b'\n' {
                    return self.take_record(i);
                }
                continue;
            }
            match b {
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == record_depth {
                        return self.take_record(self.scanned);
                    }
                }
                b'"' => self.in_string = true,
                _ => {}
            }
        }
        // Drop what has been scanned and is not part of a record in progress.
        let keep_from = self.record_start.unwrap_or(self.scanned);
        self.pending.drain(..keep_from);
        self.scanned -= keep_from;
        if let Some(s) = &mut self.record_start {
            *s = 0;
        }
        if self.pending.len() > MAX_RECORD_BYTES {
            return Some(Err(Error::Parse {
                path: self.path.clone(),
                line: Some(self.record_line),
                column: None,
                message: format!(
                    "the record starting here runs on for more than {} MiB",
                    MAX_RECORD_BYTES >> 20
                ),
                hint: Some(
                    crate::error::Hint::text(
                        "check that the file holds JSON records and that each one ends",
                    )
                    .into(),
                ),
            }));
        }
        None
    }

    fn take_record(&mut self, end: usize) -> Option<Result<(Vec<u8>, u64)>> {
        let start = self.record_start.take()?;
        self.scalar = false;
        Some(Ok((self.pending[start..end].to_vec(), self.record_line)))
    }

    /// At the end of input: an unterminated record is an error.
    pub(crate) fn finish(&self) -> Option<u64> {
        self.record_start.map(|_| self.record_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], chunk: usize) -> Vec<(String, u64)> {
        let mut s = RecordSplitter::new("t.json");
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            s.push(c);
            while let Some(r) = s.next_record() {
                let (r, l) = r.unwrap();
                out.push((String::from_utf8(r).unwrap(), l));
            }
        }
        s.push(b"\n");
        while let Some(r) = s.next_record() {
            let (r, l) = r.unwrap();
            out.push((String::from_utf8(r).unwrap(), l));
        }
        out
    }

    #[test]
    fn a_record_that_never_ends_is_refused_at_the_limit() {
        let mut s = RecordSplitter::new("big.json");
        s.push(b"{\"a\": 1}\n{\"b\": \"");
        assert!(matches!(s.next_record(), Some(Ok(_))));
        let chunk = vec![b'x'; 1 << 20];
        let mut err = None;
        for _ in 0..(MAX_RECORD_BYTES >> 20) + 2 {
            s.push(&chunk);
            if let Some(Err(e)) = s.next_record() {
                err = Some(e.to_string());
                break;
            }
        }
        let err = err.expect("refused");
        assert!(
            err.starts_with("big.json line 2: the record starting here runs on"),
            "{err}"
        );
    }

    #[test]
    fn splits_jsonl_and_arrays_at_any_chunk_size() {
        let jsonl = b"{\"a\": 1, \"s\": \"x}\\\"{\"}\n\n{\"a\": [1, {\"b\": 2}]}\n";
        let array = b"[\n  {\"a\": 1, \"s\": \"x}\\\"{\"},\n  {\"a\": [1, {\"b\": 2}]}\n]\n";
        for chunk in [1, 2, 5, 100] {
            let r = split_all(jsonl, chunk);
            assert_eq!(r.len(), 2, "chunk {chunk}: {r:?}");
            assert_eq!(r[0].0, "{\"a\": 1, \"s\": \"x}\\\"{\"}");
            assert_eq!(r[1].1, 3);
            let r = split_all(array, chunk);
            assert_eq!(r.len(), 2, "chunk {chunk}: {r:?}");
            assert_eq!(r[1].0, "{\"a\": [1, {\"b\": 2}]}");
            assert_eq!(r[1].1, 3);
        }
    }
}

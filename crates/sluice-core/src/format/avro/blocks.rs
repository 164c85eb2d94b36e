//! An Avro object container file's blocks as its bytes go by: each block is
//! `long count | long size | size bytes | 16-byte sync marker` after the header. Counting
//! them gives the rows without decoding them, and tells a file that ends inside a block
//! (cut short, or still being written) from one that ends where a block does.

/// Where the walk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Skipping the header, or a block's data and sync marker.
    Skip,
    Count,
    Size,
}

#[derive(Debug, Clone)]
pub struct Blocks {
    state: State,
    /// Bytes left to skip.
    skip: u64,
    /// A varint being read: its value so far and the bits it has.
    varint: (u64, u32),
    count: u64,
    /// Whether the bytes skipped now are a block's (not the header's).
    in_block: bool,
    offset: u64,
    /// Rows and blocks of the complete blocks seen, and where the last one ended.
    pub rows: u64,
    pub blocks: u64,
    pub boundary: u64,
    /// A count or size that cannot be a block's.
    pub invalid: Option<String>,
}

impl Blocks {
    /// A walk over a file whose header is `header_len` bytes.
    pub fn new(header_len: u64) -> Self {
        Self {
            state: State::Skip,
            skip: header_len,
            varint: (0, 0),
            count: 0,
            in_block: false,
            offset: 0,
            rows: 0,
            blocks: 0,
            boundary: header_len,
            invalid: None,
        }
    }

    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.invalid.is_none() {
            match self.state {
                State::Skip => {
                    let n = self.skip.min(bytes.len() as u64);
                    self.skip -= n;
                    self.offset += n;
                    bytes = &bytes[n as usize..];
                    if self.skip == 0 {
                        if self.in_block {
                            self.rows += self.count;
                            self.blocks += 1;
                        }
                        self.boundary = self.offset;
                        self.state = State::Count;
                    }
                }
                State::Count | State::Size => {
                    let b = bytes[0];
                    bytes = &bytes[1..];
                    self.offset += 1;
                    let (value, shift) = &mut self.varint;
                    if *shift > 63 {
                        self.invalid = Some(format!(
                            "a block header at byte {} is not a number",
                            self.boundary
                        ));
                        return;
                    }
                    *value |= u64::from(b & 0x7f) << *shift;
                    *shift += 7;
                    if b & 0x80 != 0 {
                        continue;
                    }
                    // Zigzag: Avro's longs.
                    let n = (*value >> 1) as i64 ^ -((*value & 1) as i64);
                    self.varint = (0, 0);
                    if n < 0 {
                        self.invalid = Some(format!(
                            "the block at byte {} has a negative {}",
                            self.boundary,
                            if self.state == State::Count {
                                "row count"
                            } else {
                                "size"
                            }
                        ));
                        return;
                    }
                    if self.state == State::Count {
                        self.count = n as u64;
                        self.state = State::Size;
                    } else {
                        self.skip = n as u64 + 16;
                        self.in_block = true;
                        self.state = State::Skip;
                    }
                }
            }
        }
    }

    /// Whether the bytes fed so far end where a block (or the header) ends.
    pub fn at_boundary(&self) -> bool {
        self.invalid.is_none() && self.offset == self.boundary
    }

    /// Where the block being read ends, once its size is known.
    pub fn block_end(&self) -> Option<u64> {
        (self.state == State::Skip && self.in_block).then_some(self.offset + self.skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(n: i64, out: &mut Vec<u8>) {
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }

    #[test]
    fn counts_rows_of_complete_blocks_in_any_chunking() {
        let mut file = vec![0u8; 10];
        for (rows, size) in [(3i64, 5usize), (200, 300)] {
            long(rows, &mut file);
            long(size as i64, &mut file);
            file.extend(vec![1u8; size + 16]);
        }
        for chunk in [1, 7, file.len()] {
            let mut b = Blocks::new(10);
            for c in file.chunks(chunk) {
                b.feed(c);
            }
            assert_eq!((b.rows, b.blocks), (203, 2));
            assert!(b.at_boundary());
            assert_eq!(b.boundary, file.len() as u64);
        }
        let mut b = Blocks::new(10);
        b.feed(&file[..file.len() - 1]);
        assert_eq!(b.rows, 3);
        assert!(!b.at_boundary());
        assert_eq!(b.block_end(), Some(file.len() as u64));
    }
}

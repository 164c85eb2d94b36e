//! TFRecord framing: each record is
//! `u64 length (LE) | u32 masked CRC-32C of the length | data | u32 masked CRC-32C of the data`.
//! Both checksums are checked; a record that fails one, or a file that ends inside a
//! record, is an error naming the record's index and byte offset.

use bytes::{Buf, Bytes, BytesMut};

use crate::{Error, Result};

const HEADER: usize = 12;
const FOOTER: usize = 4;

/// The most bytes one record may take: a corrupt length is refused, not allocated.
const MAX_RECORD: u64 = crate::format::MAX_RECORD_BYTES as u64;

/// TensorFlow's mask over CRC-32C, so that a checksum of data holding checksums stays
/// strong.
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One record: its data, index (0 for the first) and the byte offset it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub data: Bytes,
    pub index: u64,
    pub offset: u64,
}

/// Splits a byte stream into records, chunk by chunk.
#[derive(Debug)]
pub struct Framer {
    path: String,
    buffer: BytesMut,
    /// The offset of the buffer's first byte in the file.
    offset: u64,
    index: u64,
}

impl Framer {
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_string(),
            buffer: BytesMut::new(),
            offset: 0,
            index: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::parse(
            &self.path,
            format!(
                "record {} at byte offset {}: {}",
                self.index,
                self.offset,
                message.into()
            ),
        )
    }

    /// The next complete record, `None` if the buffer holds only part of one.
    ///
    /// # Errors
    /// A checksum that does not match, or a length past [`MAX_RECORD`].
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        if self.buffer.len() < HEADER {
            return Ok(None);
        }
        let len_bytes = &self.buffer[..8];
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let len_crc = u32::from_le_bytes(self.buffer[8..12].try_into().expect("4 bytes"));
        if masked_crc(len_bytes) != len_crc {
            return Err(self.error(
                "the length's checksum does not match: the file is corrupt, or not a TFRecord file",
            ));
        }
        if len > MAX_RECORD {
            return Err(self.error(format!(
                "a record of {len} bytes is past the {MAX_RECORD}-byte limit"
            )));
        }
        let total = HEADER + len as usize + FOOTER;
        if self.buffer.len() < total {
            return Ok(None);
        }
        let mut frame = self.buffer.split_to(total).freeze();
        frame.advance(HEADER);
        let data = frame.split_to(len as usize);
        let data_crc = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
        if masked_crc(&data) != data_crc {
            return Err(self.error("the data's checksum does not match: the record is corrupt"));
        }
        let record = Record {
            data,
            index: self.index,
            offset: self.offset,
        };
        self.index += 1;
        self.offset += total as u64;
        Ok(Some(record))
    }

    /// At the end of the input: an error if it stopped inside a record.
    pub fn finish(&self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        Err(self.error(format!(
            "the file ends inside this record ({} byte(s) of it); it may be truncated or still being written",
            self.buffer.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record framed as TensorFlow's writer frames it.
    pub(crate) fn frame(data: &[u8]) -> Vec<u8> {
        let len = (data.len() as u64).to_le_bytes();
        let mut out = len.to_vec();
        out.extend(masked_crc(&len).to_le_bytes());
        out.extend(data);
        out.extend(masked_crc(data).to_le_bytes());
        out
    }

    #[test]
    fn the_masked_crc_is_tensorflows() {
        // CRC-32C("123456789") is 0xE3069283 (RFC 3720); TensorFlow masks it so.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(
            masked_crc(b"123456789"),
            0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn records_split_across_chunks_and_errors_name_index_and_offset() {
        let mut bytes = frame(b"first");
        bytes.extend(frame(b"second record"));
        let mut f = Framer::new("t.tfrecord");
        let mut got = Vec::new();
        for chunk in bytes.chunks(5) {
            f.push(chunk);
            while let Some(r) = f.next_record().unwrap() {
                got.push((r.index, r.offset, r.data));
            }
        }
        f.finish().unwrap();
        assert_eq!(
            got,
            vec![
                (0, 0, Bytes::from_static(b"first")),
                (1, 21, Bytes::from_static(b"second record"))
            ]
        );

        let mut bad = frame(b"first");
        let mut second = frame(b"second");
        let n = second.len();
        second[n - 6] ^= 1;
        bad.extend(second);
        let mut f = Framer::new("t.tfrecord");
        f.push(&bad);
        f.next_record().unwrap().unwrap();
        let err = f.next_record().unwrap_err().to_string();
        assert!(
            err.starts_with("t.tfrecord: record 1 at byte offset 21: the data's checksum"),
            "{err}"
        );

        let cut = frame(b"first");
        let mut f = Framer::new("t.tfrecord");
        f.push(&cut[..cut.len() - 2]);
        assert!(f.next_record().unwrap().is_none());
        let err = f.finish().unwrap_err().to_string();
        assert!(
            err.contains("record 0 at byte offset 0: the file ends inside"),
            "{err}"
        );

        let mut f = Framer::new("x.csv");
        f.push(b"id,name\n1,ann\n2,bob\n");
        let err = f.next_record().unwrap_err().to_string();
        assert!(err.contains("not a TFRecord file"), "{err}");
    }
}

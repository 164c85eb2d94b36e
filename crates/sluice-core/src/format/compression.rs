//! Whole-file compression, as a wrapper around any format: a compressed file is read as the
//! stream of its decompressed bytes, and its format is named by the extension inside
//! (`transactions.csv.gz` is CSV).
//!
//! [`Compression::None`] is the only codec so far; the seam is here so that codecs are added
//! in this file alone.

use bytes::Bytes;
use futures::stream::BoxStream;
use serde::Serialize;

use crate::Result;

/// How a file's bytes are compressed as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
}

impl Compression {
    /// The compression a file's name shows, and the name without its extension.
    pub fn of(name: &str) -> (Self, &str) {
        (Self::None, name)
    }

    /// Whether the bytes are stored as they are read (formats that seek need this).
    pub fn is_none(self) -> bool {
        self == Self::None
    }

    /// The decompressed bytes of a stored stream, chunk by chunk.
    pub fn decode(
        self,
        stored: BoxStream<'static, Result<Bytes>>,
    ) -> BoxStream<'static, Result<Bytes>> {
        match self {
            Self::None => stored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_not_compressed() {
        assert_eq!(
            Compression::of("a/transactions.csv"),
            (Compression::None, "a/transactions.csv")
        );
        assert!(Compression::None.is_none());
    }
}

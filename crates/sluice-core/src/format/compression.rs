//! Whole-file compression, as a wrapper around any format: a compressed file is read as the
//! stream of its decompressed bytes, and its format is named by the extension inside
//! (`transactions.csv.gz` is CSV).
//!
//! A codec is recognised by the file's extension (`.gz`, `.zst`, `.bz2`, `.xz`) and, where
//! the name says nothing, by the magic bytes the file starts with, so a gzipped file named
//! `orders.csv` is read as what it is. Decompression streams (async-compression): memory
//! does not grow with the file. Gzip files of several members (`cat a.gz b.gz`) are read to
//! the last member.
//!
//! A decompression bomb — a small file that inflates without end — is stopped once its
//! output passes [`Limits::max_expansion`] times its stored size (and at least
//! [`Limits::MIN_CAP`]), with an error that says how to raise the cap.

use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, XzDecoder, ZstdDecoder};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::{Error, Result};

/// How a file's bytes are compressed as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

/// The codecs: extension, magic bytes.
const CODECS: &[(Compression, &[&str], &[u8])] = &[
    (Compression::Gzip, &["gz", "gzip"], &[0x1f, 0x8b]),
    (
        Compression::Zstd,
        &["zst", "zstd"],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ),
    (Compression::Bzip2, &["bz2"], b"BZh"),
    (
        Compression::Xz,
        &["xz"],
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
    ),
];

/// How far decompression may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Decompressed bytes may be at most this many times the stored size.
    pub max_expansion: u32,
}

impl Limits {
    /// The default expansion cap.
    pub const DEFAULT_EXPANSION: u32 = 20;
    /// Below this many decompressed bytes the cap never stops a file: small files of
    /// repetitive text compress far better than 20×.
    pub const MIN_CAP: u64 = 64 * 1024 * 1024;

    /// The most decompressed bytes a file of `stored` bytes may yield.
    pub fn cap(self, stored: u64) -> u64 {
        stored
            .saturating_mul(u64::from(self.max_expansion))
            .max(Self::MIN_CAP)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_expansion: Self::DEFAULT_EXPANSION,
        }
    }
}

impl Compression {
    /// The compression a file's name shows, and the name without its extension.
    pub fn of(name: &str) -> (Self, &str) {
        if let Some((inner, ext)) = name.rsplit_once('.') {
            let ext = ext.to_ascii_lowercase();
            for (codec, exts, _) in CODECS {
                if exts.contains(&ext.as_str()) {
                    return (*codec, inner);
                }
            }
        }
        (Self::None, name)
    }

    /// The compression the first bytes of a file show.
    pub fn sniff(head: &[u8]) -> Self {
        // `BZh` alone may begin a line of text: bzip2 has a block size digit and the
        // block's own magic after it.
        if head.starts_with(b"BZh")
            && !(head.len() >= 10
                && (b'1'..=b'9').contains(&head[3])
                && head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59])
        {
            return Self::None;
        }
        CODECS
            .iter()
            .find(|(_, _, magic)| head.starts_with(magic))
            .map(|(codec, _, _)| *codec)
            .unwrap_or(Self::None)
    }

    /// Whether the bytes are stored as they are read (formats that seek need this).
    pub fn is_none(self) -> bool {
        self == Self::None
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
            Self::Xz => "xz",
        }
    }

    /// The decompressed bytes of a stored stream, chunk by chunk. `path` and `stored_size`
    /// name the file and bound its output ([`Limits`]); a corrupt or truncated stream ends
    /// with an error naming the file.
    pub fn decode(
        self,
        stored: BoxStream<'static, Result<Bytes>>,
        path: &str,
        stored_size: u64,
        limits: Limits,
    ) -> BoxStream<'static, Result<Bytes>> {
        if self.is_none() {
            return stored;
        }
        // Core errors travel through the decoder as I/O errors and come out as they went in.
        let reader = StreamReader::new(stored.map_err(std::io::Error::other));
        let decoder: Box<dyn AsyncRead + Send + Unpin> = match self {
            Self::None => unreachable!("handled above"),
            Self::Gzip => {
                let mut d = GzipDecoder::new(reader);
                d.multiple_members(true);
                Box::new(d)
            }
            Self::Zstd => {
                let mut d = ZstdDecoder::new(reader);
                d.multiple_members(true);
                Box::new(d)
            }
            Self::Bzip2 => {
                let mut d = BzDecoder::new(reader);
                d.multiple_members(true);
                Box::new(d)
            }
            Self::Xz => {
                let mut d = XzDecoder::new(reader);
                d.multiple_members(true);
                Box::new(d)
            }
        };
        let cap = limits.cap(stored_size);
        let path = path.to_string();
        let mut total = 0u64;
        let decoded = ReaderStream::with_capacity(decoder, 256 * 1024).map(move |chunk| {
                let chunk = chunk.map_err(|e| self.error_of(&path, e))?;
                total += chunk.len() as u64;
                if total > cap {
                    return Err(Error::parse(
                        &path,
                        format!(
                            "decompressed past {} ({}× its stored {}): stopped as a possible decompression bomb; if the file is genuine, raise the job's max_expansion",
                            bytesize::ByteSize::b(cap).display().iec(),
                            limits.max_expansion,
                            bytesize::ByteSize::b(stored_size).display().iec()
                        ),
                    ));
                }
                Ok(chunk)
            });
        super::until_error(decoded)
    }

    /// A decoding failure as the file's error: the store's own error if it was one, else
    /// what the codec found.
    fn error_of(self, path: &str, e: std::io::Error) -> Error {
        let text = e.to_string();
        match e.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(core)) => *core,
            _ => Error::parse(
                path,
                format!(
                    "not a valid {} stream ({text}); the file is corrupt or was cut short",
                    self.name()
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests;

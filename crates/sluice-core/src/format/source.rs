//! One file as formats read it: its head for detection, its bytes as a stream, or ranged
//! reads for formats that seek (Parquet's footer), all through its [`Compression`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::archive::Entry;
use super::compression::{Compression, Limits};
use crate::storage::{FileEntry, Store};
use crate::{Error, Result};

/// A file of a store, ready to be read by a format.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    store: &'a Store,
    file: &'a FileEntry,
    compression: Compression,
    limits: Limits,
    /// An entry of a zip archive, and how errors name it (`archive.zip!entry.csv`).
    entry: Option<(Entry, String)>,
    /// Records the format cannot read are kept, marked, for quarantine ([`super::Reading`]).
    lenient: bool,
}

/// The head of a file, decompressed: what detection reads.
#[derive(Debug, Clone)]
pub struct Sample {
    pub bytes: Bytes,
    /// The sample is the whole file.
    pub complete: bool,
    /// The stored bytes the sample came from, and the file's stored size, for estimates.
    stored_read: u64,
    stored_size: u64,
}

impl Sample {
    /// The head of an uncompressed file of `file_size` bytes.
    pub fn new(bytes: Bytes, file_size: u64) -> Self {
        Self {
            complete: bytes.len() as u64 >= file_size,
            stored_read: bytes.len() as u64,
            stored_size: file_size,
            bytes,
        }
    }

    /// The file's stored size.
    pub fn file_size(&self) -> u64 {
        self.stored_size
    }

    /// Rows in the whole file, extrapolated from `rows` seen in the sample.
    pub fn estimate_rows(&self, rows: u64) -> u64 {
        if self.complete {
            return rows;
        }
        if self.stored_read == 0 {
            return 0;
        }
        ((rows as f64) * (self.stored_size as f64) / (self.stored_read as f64)).round() as u64
    }

    /// The sample's bytes up to its last complete line: when the sample stops before the
    /// end of the file, the bytes after the last newline are dropped.
    pub fn complete_lines(&self) -> &[u8] {
        super::complete_lines(&self.bytes, !self.complete)
    }
}

impl<'a> Source<'a> {
    pub fn new(store: &'a Store, file: &'a FileEntry) -> Self {
        let (compression, _) = Compression::of(file.name());
        Self {
            store,
            file,
            compression,
            limits: Limits::default(),
            entry: None,
            lenient: false,
        }
    }

    /// An entry of the zip archive `file`.
    pub fn entry(store: &'a Store, file: &'a FileEntry, entry: Entry) -> Self {
        let (compression, _) = Compression::of(&entry.name);
        let shown = format!("{}!{}", file.path, entry.name);
        Self {
            store,
            file,
            compression,
            limits: Limits::default(),
            entry: Some((entry, shown)),
            lenient: false,
        }
    }

    /// The same source with other decompression limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The same source, keeping records the format cannot read for quarantine.
    pub fn lenient(mut self, lenient: bool) -> Self {
        self.lenient = lenient;
        self
    }

    /// Whether records the format cannot read are kept for quarantine.
    pub fn is_lenient(&self) -> bool {
        self.lenient
    }

    pub fn path(&self) -> &str {
        match &self.entry {
            Some((_, shown)) => shown,
            None => &self.file.path,
        }
    }

    /// The stored bytes: the file's, or an archive entry's decompressed by the archive.
    async fn stored(&self) -> Result<BoxStream<'static, Result<Bytes>>> {
        match &self.entry {
            Some((entry, _)) => Ok(super::archive::entry_stream(
                self.store,
                self.file,
                entry,
                self.limits,
            )),
            None => self.store.read_stream(self.file).await,
        }
    }

    /// The stored size: the file's, or an archive entry's.
    fn stored_size(&self) -> u64 {
        match &self.entry {
            Some((entry, _)) => entry.size,
            None => self.file.size,
        }
    }

    pub fn file(&self) -> &FileEntry {
        self.file
    }

    /// The compression the file's name shows (its bytes may show one the name does not:
    /// [`Source::head`] and [`Source::stream`] look).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The first `len` decompressed bytes (fewer if the file is shorter).
    ///
    /// # Errors
    /// The store's, or a compressed stream that cannot be read.
    pub async fn head(&self, len: u64) -> Result<Sample> {
        let compression = match self.compression {
            Compression::None if self.entry.is_none() => {
                let bytes = self.store.read_head(self.file, len).await?;
                match Compression::sniff(&bytes) {
                    Compression::None => return Ok(Sample::new(bytes, self.file.size)),
                    found => found,
                }
            }
            named => named,
        };
        // Decompress from the start until `len` bytes are out, counting the stored bytes
        // that took (for estimates).
        let read = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&read);
        let stored = self
            .stored()
            .await?
            .inspect_ok(move |b| {
                counted.fetch_add(b.len() as u64, Ordering::Relaxed);
            })
            .boxed();
        let mut out = compression.decode(stored, self.path(), self.stored_size(), self.limits);
        let mut bytes = Vec::new();
        let mut complete = true;
        while let Some(chunk) = out.next().await {
            bytes.extend_from_slice(&chunk?);
            if bytes.len() as u64 >= len {
                complete = false;
                bytes.truncate(len as usize);
                break;
            }
        }
        Ok(Sample {
            bytes: Bytes::from(bytes),
            complete,
            stored_read: read.load(Ordering::Relaxed).min(self.stored_size()),
            stored_size: self.stored_size(),
        })
    }

    /// The whole file's decompressed bytes, chunk by chunk.
    ///
    /// # Errors
    /// The store's.
    pub async fn stream(&self) -> Result<BoxStream<'static, Result<Bytes>>> {
        let mut stored = self.stored().await?;
        let compression = match self.compression {
            Compression::None => {
                // The first chunk shows whether the bytes are compressed all the same.
                let first = match stored.next().await {
                    Some(first) => first?,
                    None => return Ok(futures::stream::empty().boxed()),
                };
                let found = Compression::sniff(&first);
                stored = futures::stream::once(async { Ok(first) })
                    .chain(stored)
                    .boxed();
                found
            }
            named => named,
        };
        Ok(compression.decode(stored, self.path(), self.stored_size(), self.limits))
    }

    /// The store and file for ranged reads ([`Store::read_range`], pinned to the version
    /// listed), for formats that seek.
    ///
    /// # Errors
    /// A file compressed as a whole cannot be read at an offset.
    pub fn ranged(&self, format: &str) -> Result<(Store, FileEntry)> {
        if self.entry.is_some() {
            return Err(Error::parse(
                self.path(),
                format!(
                    "a {format} file inside a zip archive cannot be read; {format} compresses inside the file, so store it unzipped"
                ),
            ));
        }
        if !self.compression.is_none() {
            return Err(Error::parse(
                &self.file.path,
                format!(
                    "a {format} file compressed as a whole ({}) cannot be read; {format} compresses inside the file, so store it uncompressed",
                    self.compression.name()
                ),
            ));
        }
        Ok((self.store.clone(), self.file.clone()))
    }
}

//! Zip archives: each entry of the job's format is a file of its own, read one after the
//! other into one load, so an archive loads whole or not at all.
//!
//! The central directory (at the archive's end) is read through ranged reads pinned to the
//! version listed, so an archive in a bucket is never downloaded to find its entries; each
//! entry is decompressed on a blocking thread (the zip crate is synchronous) and its bytes
//! handed to the format's reader as they come. An entry that inflates past the job's
//! expansion cap ([`Limits`]) is stopped as a decompression bomb.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use super::compression::Limits;
use super::{FormatInfo, by_extension};
use crate::storage::{FileEntry, Store};
use crate::{Error, Result};

/// Whether a file is a zip archive, by its name.
pub fn is_zip(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".zip")
}

/// One entry of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub index: usize,
    pub name: String,
    pub size: u64,
    pub compressed: u64,
}

/// An archive's bytes as a synchronous reader over ranged reads (on a blocking thread).
struct Ranges {
    store: Store,
    file: FileEntry,
    pos: u64,
    runtime: tokio::runtime::Handle,
}

impl Read for Ranges {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let end = (self.pos + buf.len() as u64).min(self.file.size);
        if end <= self.pos {
            return Ok(0);
        }
        let bytes = self
            .runtime
            .block_on(self.store.read_range(&self.file, self.pos..end))
            .map_err(std::io::Error::other)?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        self.pos += bytes.len() as u64;
        Ok(bytes.len())
    }
}

impl Seek for Ranges {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.file.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

type Archive = zip::ZipArchive<std::io::BufReader<Ranges>>;

fn open(store: Store, file: FileEntry, runtime: tokio::runtime::Handle) -> Result<Archive> {
    let path = file.path.clone();
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        Ranges {
            store,
            file,
            pos: 0,
            runtime,
        },
    );
    zip::ZipArchive::new(reader).map_err(|e| zip_error(&path, e))
}

/// A zip error as the archive's: the store's own where it was one.
fn zip_error(path: &str, e: zip::result::ZipError) -> Error {
    if let zip::result::ZipError::Io(io) = &e
        && let Some(core) = io.get_ref().and_then(|i| i.downcast_ref::<Error>())
    {
        if core.is_changed() {
            return Error::Changed { path: path.into() };
        }
        return Error::parse(path, core.to_string());
    }
    Error::Parse {
        path: path.into(),
        line: None,
        column: None,
        message: format!("not a readable zip archive: {e}"),
        hint: Some(crate::error::Hint::text("check that the archive is completely written").into()),
    }
}

/// The archive's entries of `format`, in the archive's order: files (not folders, not
/// macOS resource forks) whose path matches `pattern` (a glob: `data/*.csv`), or by
/// default whose name shows the format.
///
/// # Errors
/// An archive that cannot be read, a pattern that is not a glob, or no such entry.
pub async fn entries(
    store: &Store,
    file: &FileEntry,
    format: &FormatInfo,
    pattern: Option<&str>,
) -> Result<Vec<Entry>> {
    let glob = pattern
        .map(|p| {
            globset::GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| Error::InvalidOption {
                    option: "archive_entries".into(),
                    reason: format!("'{p}' is not a glob: {e}"),
                })
        })
        .transpose()?;
    let (store, owned) = (store.clone(), file.clone());
    let runtime = tokio::runtime::Handle::current();
    let all = tokio::task::spawn_blocking(move || -> Result<Vec<Entry>> {
        let mut archive = open(store, owned.clone(), runtime)?;
        let mut out = Vec::new();
        for index in 0..archive.len() {
            let entry = archive
                .by_index_raw(index)
                .map_err(|e| zip_error(&owned.path, e))?;
            if entry.is_dir() {
                continue;
            }
            let name = entry
                .name()
                .map_err(|e| zip_error(&owned.path, e))?
                .to_string();
            out.push(Entry {
                index,
                name,
                size: entry.size(),
                compressed: entry.compressed_size(),
            });
        }
        Ok(out)
    })
    .await
    .map_err(|_| Error::parse(&file.path, "the zip reader failed on this archive"))??;
    let total = all.len();
    let kept: Vec<Entry> = all
        .into_iter()
        .filter(|e| !e.name.starts_with("__MACOSX/"))
        .filter(|e| match &glob {
            Some(g) => g.is_match(&e.name),
            None => by_extension(&e.name).is_some_and(|f| f.name == format.name),
        })
        .collect();
    if kept.is_empty() {
        return Err(Error::NoRows {
            path: file.path.clone(),
            what: match pattern {
                Some(p) => format!("the archive holds {total} file(s), none matching '{p}'"),
                None => format!(
                    "the archive holds {total} file(s), none of them {} (by its extension)",
                    format.label
                ),
            },
        });
    }
    Ok(kept)
}

/// An entry's decompressed bytes, chunk by chunk, read on a blocking thread.
pub fn entry_stream(
    store: &Store,
    file: &FileEntry,
    entry: &Entry,
    limits: Limits,
) -> BoxStream<'static, Result<Bytes>> {
    let (store, file, entry) = (store.clone(), file.clone(), entry.clone());
    let runtime = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    let shown = format!("{}!{}", file.path, entry.name);
    tokio::task::spawn_blocking(move || {
        let send = |item| tx.blocking_send(item).is_ok();
        let mut archive = match open(store, file, runtime) {
            Ok(a) => a,
            Err(e) => {
                send(Err(e));
                return;
            }
        };
        let mut reader = match archive.by_index(entry.index) {
            Ok(r) => r,
            Err(e) => {
                send(Err(zip_error(&shown, e)));
                return;
            }
        };
        let cap = limits.cap(entry.compressed);
        let mut out = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    out += n as u64;
                    if out > cap {
                        send(Err(Error::parse(
                            &shown,
                            format!(
                                "decompressed past {} ({}× its stored {} bytes): stopped as a possible decompression bomb; if the archive is genuine, raise the job's max_expansion",
                                bytesize::ByteSize::b(cap).display().iec(),
                                limits.max_expansion,
                                entry.compressed
                            ),
                        )));
                        return;
                    }
                    if !send(Ok(Bytes::copy_from_slice(&buf[..n]))) {
                        return;
                    }
                }
                Err(e) => {
                    let message = match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
                        Some(core) => core.to_string(),
                        None => format!("the entry is corrupt or cut short: {e}"),
                    };
                    send(Err(Error::parse(&shown, message)));
                    return;
                }
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) }).boxed()
}

#[cfg(test)]
mod tests;

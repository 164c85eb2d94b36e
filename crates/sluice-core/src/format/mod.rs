//! File formats: one registry, one module per format, detection from a sample and
//! streaming readers.
//!
//! Each format implements [`Format`] in a module of its own and has one line in the
//! [`registry!`] below; nothing else names it. The registry makes [`FormatOptions`] (the
//! options of every format, tagged by `file_format` as the API and the catalog store them),
//! [`FORMATS`] (what the CLI's `--format`, the API's `file_format` and the UI's choices offer)
//! and the dispatch of [`detect`] and [`read`].
//!
//! A file is read through a [`Source`]: its head for detection (at most [`SAMPLE_BYTES`],
//! or only the footer of a Parquet file), its bytes as a stream, or ranged reads, all through
//! the file's [`Compression`]. [`read`] streams a whole file as Arrow record batches in a
//! job's column types; a value that does not fit names the file, line and column.

pub mod archive;
pub mod avro;
mod columnar;
pub mod compression;
pub mod csv;
pub mod json;
pub mod orc;
pub mod parquet;
mod source;
#[cfg(test)]
mod testing;
pub mod tfrecord;
mod values;

use std::future::Future;

use arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use self::compression::Compression;
pub use self::csv::{CsvOptions, Encoding};
pub use self::source::{Sample, Source};
use crate::fields::Field;
use crate::schema::{Column, DetectedSchema};
use crate::storage::{FileEntry, Store};
use crate::{Error, Result};

/// How much of a file's head detection reads.
pub const SAMPLE_BYTES: u64 = 5 * 1024 * 1024;

/// Rows per record batch.
pub const BATCH_ROWS: usize = 8192;

/// The most columns a file may have: more is refused with a clear error before anything is
/// read (BigQuery's own limit; PostgreSQL's is lower and it says so when the table is made).
pub const MAX_COLUMNS: usize = 10_000;

/// The most bytes one line of a CSV file or one JSON record may take: a file that runs on
/// without a line end is refused rather than read into memory.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Record batches on their way from a reader to a sink.
pub type BatchStream = BoxStream<'static, Result<RecordBatch>>;

/// A format as users choose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FormatInfo {
    /// The `file_format` value: `csv`.
    pub name: &'static str,
    pub label: &'static str,
    /// Other names accepted for it (`tsv`, `jsonl`).
    pub aliases: &'static [&'static str],
    /// File name endings that suggest it, without the dot, lowercase.
    pub extensions: &'static [&'static str],
    /// Its options, as forms show them; each name is a key of its options.
    pub options: &'static [Field],
    /// Its readers find the job's columns by name, so a file that orders them otherwise
    /// is not a changed schema (CSV matches by its header's names, or by position when it
    /// has none).
    pub columns_by_name: bool,
    /// A record may leave a column out, which then loads as NULL (JSON keys, TFRecord
    /// features), so a file whose sample lacks a nullable column is not a changed schema.
    pub missing_is_null: bool,
}

/// A file format: detection from a sample and a streaming reader.
///
/// # Contract
/// - `detect` reads at most [`SAMPLE_BYTES`] of the head (or what the format's own metadata
///   needs), and returns the options it settled on with every "detect it" option resolved.
/// - `read` yields batches whose schema is [`crate::schema::arrow_schema`] of `columns`,
///   matched to the file's columns by name where the file names them; memory does not grow
///   with the file; the first error ends the stream and names the file (and line, record or
///   column where there is one).
pub trait Format {
    type Options: Clone + Default + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    const INFO: FormatInfo;

    /// # Errors
    /// A sample that cannot be read as this format.
    fn detect(
        source: &Source<'_>,
        options: &Self::Options,
    ) -> impl Future<Output = Result<(Self::Options, DetectedSchema)>> + Send;

    /// # Errors
    /// A file that cannot be opened as this format; later errors come as stream items.
    fn read(
        source: &Source<'_>,
        options: &Self::Options,
        columns: &[Column],
    ) -> impl Future<Output = Result<BatchStream>> + Send;

    /// Checks options before they are used.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the option.
    fn validate(_options: &Self::Options) -> Result<()> {
        Ok(())
    }
}

/// The formats: `Variant => module::Type`, in the order they are offered. The variant's
/// lowercase name is its `file_format` tag and must be its `FormatInfo::name`.
macro_rules! registry {
    ($($variant:ident => $format:ty),* $(,)?) => {
        /// A format and its options, tagged by `file_format`. Options left `None` are
        /// detected.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "file_format", rename_all = "lowercase")]
        pub enum FormatOptions {
            $($variant(<$format as Format>::Options),)*
        }

        /// Every format sluice reads.
        pub const FORMATS: &[FormatInfo] = &[$(<$format as Format>::INFO),*];

        impl FormatOptions {
            /// The format these options are for.
            pub fn info(&self) -> &'static FormatInfo {
                match self {
                    $(Self::$variant(_) => &<$format as Format>::INFO,)*
                }
            }

            /// A format's options with everything left to detection.
            pub fn default_for(format: &FormatInfo) -> Option<Self> {
                $(if format.name == <$format as Format>::INFO.name {
                    return Some(Self::$variant(Default::default()));
                })*
                None
            }

            /// # Errors
            /// [`Error::InvalidOption`] naming the option.
            pub fn validate(&self) -> Result<()> {
                match self {
                    $(Self::$variant(o) => <$format as Format>::validate(o),)*
                }
            }

            async fn detect_in(&self, source: &Source<'_>) -> Result<(Self, DetectedSchema)> {
                match self {
                    $(Self::$variant(o) => {
                        let (o, schema) = <$format as Format>::detect(source, o).await?;
                        Ok((Self::$variant(o), schema))
                    })*
                }
            }

            async fn read_in(&self, source: &Source<'_>, columns: &[Column]) -> Result<BatchStream> {
                match self {
                    $(Self::$variant(o) => <$format as Format>::read(source, o, columns).await,)*
                }
            }
        }
    };
}

registry! {
    Csv => csv::Csv,
    Parquet => parquet::Parquet,
    Json => json::Json,
    Avro => avro::Avro,
    Orc => orc::Orc,
    Tfrecord => tfrecord::TfRecord,
}

/// The format named `name` (or one of its aliases), in any case.
pub fn by_name(name: &str) -> Option<&'static FormatInfo> {
    let name = name.trim().to_ascii_lowercase();
    FORMATS
        .iter()
        .find(|f| f.name == name || f.aliases.contains(&name.as_str()))
}

/// The format a file's name suggests, looking through its compression
/// (`a.csv.gz` is CSV).
pub fn by_extension(path: &str) -> Option<&'static FormatInfo> {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let name = name.strip_suffix(".zip").unwrap_or(&name);
    let (_, inner) = Compression::of(name);
    let ext = inner.rsplit_once('.').map(|(_, e)| e)?;
    FORMATS.iter().find(|f| f.extensions.contains(&ext))
}

/// `csv, parquet, json, avro, orc or tfrecord`.
pub fn names() -> String {
    let names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl FormatOptions {
    /// The options a user gave, or those the file's extension suggests.
    ///
    /// # Errors
    /// When no format is given and the extension names none.
    pub fn for_file(given: Option<FormatOptions>, path: &str) -> Result<Self> {
        if let Some(given) = given {
            return Ok(given);
        }
        by_extension(path)
            .and_then(Self::default_for)
            .ok_or_else(|| Error::InvalidOption {
                option: "file_format".into(),
                reason: format!(
                    "cannot tell the format of '{path}' from its extension; name it ({})",
                    names()
                ),
            })
    }

    /// Options as a request gives them: a format's name and an object of its options.
    /// `None` when no format is named.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming `file_format` for an unknown format, or the option
    /// that does not fit.
    pub fn from_request(
        format: Option<&str>,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<Self>> {
        let Some(name) = format.filter(|f| !f.trim().is_empty()) else {
            return Ok(None);
        };
        let info = by_name(name).ok_or_else(|| Error::InvalidOption {
            option: "file_format".into(),
            reason: format!("unknown format '{name}'; expected {}", names()),
        })?;
        let mut tagged = options.clone();
        tagged.insert("file_format".into(), serde_json::Value::from(info.name));
        let parsed: Self =
            serde_json::from_value(serde_json::Value::Object(tagged)).map_err(|e| {
                let text = e.to_string();
                // serde names an unknown key as "unknown field `x`".
                let option = text
                    .split('`')
                    .nth(1)
                    .filter(|_| text.starts_with("unknown field"))
                    .unwrap_or("file_format_options")
                    .to_string();
                Error::InvalidOption {
                    option,
                    reason: format!("invalid {} options: {text}", info.label),
                }
            })?;
        parsed.validate()?;
        Ok(Some(parsed))
    }

    /// The format's name: `csv`.
    pub fn name(&self) -> &'static str {
        self.info().name
    }
}

/// Detects the schema of one file from its head (or its footer, for Parquet).
///
/// The returned schema carries the options detection settled on in `format_options`.
///
/// # Errors
/// The store's, or what the format finds wrong with the sample.
pub async fn detect(
    store: &Store,
    file: &FileEntry,
    options: &FormatOptions,
) -> Result<DetectedSchema> {
    detect_with(store, file, options, &Reading::default()).await
}

/// How a job reads its files beyond their format: how far a compressed file may inflate,
/// and which entries of a zip archive are its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    pub limits: compression::Limits,
    /// A glob on the entries' paths inside an archive (`data/*.csv`); by default, every
    /// entry whose extension is the format's.
    pub archive_entries: Option<String>,
    /// Keep CSV records of the wrong width in the stream, marked
    /// ([`csv::BAD_RECORD`]), for the job to quarantine instead of failing the file.
    pub lenient_records: bool,
}

/// [`detect`] as a job reads its files.
///
/// # Errors
/// As [`detect`].
pub async fn detect_with(
    store: &Store,
    file: &FileEntry,
    options: &FormatOptions,
    reading: &Reading,
) -> Result<DetectedSchema> {
    options.validate()?;
    if file.size == 0 {
        return Err(Error::NoRows {
            path: file.path.clone(),
            what: "the file is empty".into(),
        });
    }
    // A zip archive: its first entry of the format stands for them all.
    let source = if archive::is_zip(&file.path) {
        let first = archive::entries(
            store,
            file,
            options.info(),
            reading.archive_entries.as_deref(),
        )
        .await?
        .remove(0);
        Source::entry(store, file, first).with_limits(reading.limits)
    } else {
        Source::new(store, file)
    }
    .lenient(reading.lenient_records);
    let (resolved, mut detected) = options.detect_in(&source).await?;
    detected.format_options = Some(resolved);
    detected.file_path = Some(file.path.clone());
    Ok(detected)
}

/// Streams a whole file as record batches whose schema is [`crate::schema::arrow_schema`] of
/// `columns`. Batches are produced as the bytes arrive; memory does not grow with the file.
///
/// # Errors
/// The store's, or a file the format cannot open; later errors come as stream items.
pub async fn read(
    store: &Store,
    file: &FileEntry,
    options: &FormatOptions,
    columns: &[Column],
) -> Result<BatchStream> {
    read_with(store, file, options, columns, &Reading::default()).await
}

/// [`read`] as a job reads its files ([`Reading`]).
///
/// # Errors
/// As [`read`].
pub async fn read_with(
    store: &Store,
    file: &FileEntry,
    options: &FormatOptions,
    columns: &[Column],
    reading: &Reading,
) -> Result<BatchStream> {
    let (limits, lenient) = (reading.limits, reading.lenient_records);
    if archive::is_zip(&file.path) {
        use futures::{StreamExt, TryStreamExt};
        // Each entry in turn, into one stream: the archive loads whole or not at all.
        let entries = archive::entries(
            store,
            file,
            options.info(),
            reading.archive_entries.as_deref(),
        )
        .await?;
        let (store, file, options, columns) = (
            store.clone(),
            file.clone(),
            options.clone(),
            columns.to_vec(),
        );
        return Ok(futures::stream::iter(entries)
            .then(move |entry| {
                let (store, file, options, columns) = (
                    store.clone(),
                    file.clone(),
                    options.clone(),
                    columns.clone(),
                );
                async move {
                    let source = Source::entry(&store, &file, entry)
                        .with_limits(limits)
                        .lenient(lenient);
                    options.read_in(&source, &columns).await
                }
            })
            .try_flatten()
            .boxed());
    }
    let source = Source::new(store, file)
        .with_limits(limits)
        .lenient(lenient);
    options.read_in(&source, columns).await
}

/// A reader's state that yields one record batch at a time.
pub(crate) trait BatchSource: Send + 'static {
    /// The next batch, `None` at the end.
    fn next_batch(&mut self) -> impl Future<Output = Result<Option<RecordBatch>>> + Send;
}

/// Turns a [`BatchSource`] into a stream that ends after the first error.
pub(crate) fn batch_stream(source: impl BatchSource) -> BatchStream {
    use futures::StreamExt;
    futures::stream::unfold((source, false), |(mut source, failed)| async move {
        if failed {
            return None;
        }
        match source.next_batch().await {
            Ok(Some(batch)) => Some((Ok(batch), (source, false))),
            Ok(None) => None,
            Err(e) => Some((Err(e), (source, true))),
        }
    })
    .boxed()
}

/// `stream` up to and with its first error: what comes after an error is never read.
pub(crate) fn until_error<T: Send + 'static>(
    stream: impl futures::Stream<Item = Result<T>> + Send + 'static,
) -> BoxStream<'static, Result<T>> {
    use futures::StreamExt;
    stream
        .scan(false, |failed, item| {
            let stop = *failed;
            *failed |= item.is_err();
            futures::future::ready((!stop).then_some(item))
        })
        .boxed()
}

/// A reader crate that panicked on a file, as the file's error.
fn panicked(path: &str) -> Error {
    Error::Parse {
        path: path.into(),
        line: None,
        column: None,
        message: "the reader failed on this file: it is corrupt, or uses a feature the reader does not support".into(),
        hint: Some(crate::error::Hint::text("check that the file is completely written and readable by its own tools").into()),
    }
}

/// Runs a reader's work on a task of its own, so that a reader crate that panics on a
/// corrupt file fails that file with an error instead of taking the process down.
pub(crate) async fn guarded<T: Send + 'static>(
    path: &str,
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(work)
        .await
        .unwrap_or_else(|_| Err(panicked(path)))
}

/// [`guarded`] for a stream of batches: read on a task of its own, batch by batch.
pub(crate) fn guarded_stream(path: &str, mut stream: BatchStream) -> BatchStream {
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let handle = tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    let path = path.to_string();
    futures::stream::unfold(
        (rx, Some(handle), path),
        |(mut rx, handle, path)| async move {
            match rx.recv().await {
                Some(item) => Some((item, (rx, handle, path))),
                None => match handle?.await {
                    Err(e) if e.is_panic() => {
                        let err = panicked(&path);
                        Some((Err(err), (rx, None, path)))
                    }
                    _ => None,
                },
            }
        },
    )
    .boxed()
}

/// Keeps the complete lines of a sample: the bytes after the last newline are dropped when
/// the sample stops before the end of the file.
pub(crate) fn complete_lines(sample: &[u8], truncated: bool) -> &[u8] {
    if !truncated {
        return sample;
    }
    match sample.iter().rposition(|&c| c == b'\n') {
        Some(i) => &sample[..=i],
        None => sample,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(by_extension("a/b/t_2024.CSV").map(|f| f.name), Some("csv"));
        assert_eq!(by_extension("x.parquet").map(|f| f.name), Some("parquet"));
        assert_eq!(by_extension("e.jsonl").map(|f| f.name), Some("json"));
        assert_eq!(by_extension("README"), None);
        let err = FormatOptions::for_file(None, "data.bin").unwrap_err();
        assert_eq!(err.field(), Some("file_format"));
        assert!(
            err.to_string()
                .contains("name it (csv, parquet, json, avro, orc or tfrecord)"),
            "{err}"
        );
    }

    #[test]
    fn every_registered_format_is_tagged_by_its_name() {
        for info in FORMATS {
            let options = FormatOptions::default_for(info).unwrap();
            assert_eq!(options.info(), info);
            let json = serde_json::to_value(&options).unwrap();
            assert_eq!(json["file_format"], info.name, "{json}");
            for alias in info.aliases {
                assert_eq!(by_name(alias), Some(info));
            }
        }
        assert_eq!(by_name("CSV").map(|f| f.name), Some("csv"));
        assert_eq!(by_name("xls"), None);
    }

    #[test]
    fn sample_drops_the_last_partial_line() {
        assert_eq!(complete_lines(b"a,b\n1,2\n3,", true), b"a,b\n1,2\n");
        assert_eq!(complete_lines(b"a,b\n1,2\n3,", false), b"a,b\n1,2\n3,");
    }

    #[test]
    fn options_serialize_tagged_by_format() {
        let json = serde_json::to_value(FormatOptions::Parquet(Default::default())).unwrap();
        assert_eq!(json, serde_json::json!({"file_format": "parquet"}));
        let csv: FormatOptions =
            serde_json::from_value(serde_json::json!({"file_format": "csv", "delimiter": "|"}))
                .unwrap();
        assert_eq!(
            csv,
            FormatOptions::Csv(CsvOptions {
                delimiter: Some('|'),
                ..Default::default()
            })
        );
    }

    #[test]
    fn requests_name_the_format_and_the_option_at_fault() {
        let opts = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            FormatOptions::from_request(Some("TSV"), &opts(serde_json::json!({"delimiter": "\t"})))
                .unwrap(),
            Some(FormatOptions::Csv(CsvOptions {
                delimiter: Some('\t'),
                ..Default::default()
            }))
        );
        assert_eq!(
            FormatOptions::from_request(None, &Default::default()).unwrap(),
            None
        );
        let err = FormatOptions::from_request(Some("xls"), &Default::default()).unwrap_err();
        assert_eq!(err.field(), Some("file_format"));
        assert!(
            err.to_string()
                .contains("expected csv, parquet, json, avro, orc or tfrecord"),
            "{err}"
        );
        let err = FormatOptions::from_request(
            Some("parquet"),
            &opts(serde_json::json!({"delimiter": ","})),
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("delimiter"), "{err}");
        let err =
            FormatOptions::from_request(Some("csv"), &opts(serde_json::json!({"delimiter": "ab"})))
                .unwrap_err();
        assert_eq!(err.field(), Some("file_format_options"), "{err}");
    }
}

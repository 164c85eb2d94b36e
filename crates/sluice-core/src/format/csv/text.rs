//! The first stage of reading a CSV file: its bytes as checked UTF-8 text (decoded from its
//! encoding, the lines before the header dropped, quoting followed, overlong lines and
//! records of the wrong width handled), made on a task of its own so that the decoder
//! (records into typed columns) works beside it on another core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::{Buf, Bytes};
use futures::stream::{BoxStream, StreamExt};

use super::CsvOptions;
use super::encoding::Decoder;
use super::lenient::RecordFilter;
use super::quotes::QuoteTracker;
use super::sniff::unclosed_quote;
use crate::format::MAX_RECORD_BYTES;
use crate::{Error, Result};

/// Chunks of text in flight between the stage and the decoder.
const AHEAD: usize = 4;

struct Stage {
    input: BoxStream<'static, Result<Bytes>>,
    text: Decoder,
    /// Lines to drop before the header, and how many are dropped.
    skip: u32,
    skipped: Arc<AtomicU32>,
    path: String,
    quote: char,
    /// Follows the quoting, to refuse a quote that never closes.
    quotes: QuoteTracker,
    /// Bytes since the last line end, to refuse a line that never ends.
    line_bytes: usize,
    /// Replaces records of the wrong width, when they are kept for quarantine.
    filter: Option<RecordFilter>,
    done: bool,
}

/// The text of a file, read ahead on a task of its own (in place, outside a Tokio
/// runtime).
pub(super) struct Text {
    source: Source,
    skipped: Arc<AtomicU32>,
    path: String,
    ended: bool,
}

impl Text {
    /// Starts reading `input` ahead.
    pub(super) fn start(
        input: BoxStream<'static, Result<Bytes>>,
        options: &CsvOptions,
        columns: usize,
        path: &str,
        lenient: bool,
    ) -> Self {
        let skipped = Arc::new(AtomicU32::new(0));
        let mut stage = Stage {
            input,
            text: Decoder::new(options.encoding()),
            skip: options.skip_rows.unwrap_or(0),
            skipped: Arc::clone(&skipped),
            path: path.to_string(),
            quote: options.quote.unwrap_or('"'),
            quotes: QuoteTracker::new(options.delimiter_byte(), options.quote_byte()),
            line_bytes: 0,
            filter: lenient.then(|| {
                RecordFilter::new(
                    options.delimiter_byte(),
                    options.quote_byte(),
                    options.escape.map(|e| e as u8),
                    options.comment.map(|c| c as u8),
                    (!options.header()).then_some(columns),
                )
            }),
            done: false,
        };
        let source = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
                let task = runtime.spawn(async move {
                    loop {
                        let item = stage.next().await;
                        let stop = !matches!(item, Ok(Some(_)));
                        if tx.send(item).await.is_err() || stop {
                            break;
                        }
                    }
                });
                Source::Ahead {
                    rx,
                    task: Some(task),
                }
            }
            Err(_) => Source::InPlace(Box::new(stage)),
        };
        Self {
            source,
            skipped,
            path: path.to_string(),
            ended: false,
        }
    }

    /// The next chunk of text, `None` at the end of the file.
    pub(super) async fn next(&mut self) -> Result<Option<Bytes>> {
        if self.ended {
            return Ok(None);
        }
        let (rx, task) = match &mut self.source {
            Source::InPlace(stage) => {
                let item = stage.next().await;
                self.ended = !matches!(item, Ok(Some(_)));
                return item;
            }
            Source::Ahead { rx, task } => (rx, task),
        };
        match rx.recv().await {
            Some(Ok(Some(chunk))) => Ok(Some(chunk)),
            Some(other) => {
                self.ended = true;
                other
            }
            // The stage stopped without saying the file ended: it panicked.
            None => {
                self.ended = true;
                let panicked = match task.take() {
                    Some(task) => task.await.is_err(),
                    None => true,
                };
                Err(Error::parse(
                    &self.path,
                    if panicked {
                        "the reader failed on this file while decoding its text"
                    } else {
                        "the file's text ended before it was read"
                    },
                ))
            }
        }
    }

    /// Lines dropped before the header (`skip_rows`), so far.
    pub(super) fn skipped(&self) -> u32 {
        self.skipped.load(Ordering::Relaxed)
    }
}

enum Source {
    Ahead {
        rx: tokio::sync::mpsc::Receiver<Result<Option<Bytes>>>,
        task: Option<tokio::task::JoinHandle<()>>,
    },
    InPlace(Box<Stage>),
}

impl Stage {
    /// The next chunk of checked text; at the end, what is left, refusing a quote that
    /// never closed; then `None`.
    async fn next(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        let (chunk, last) = match self.input.next().await {
            Some(chunk) => (chunk?, false),
            None => {
                self.done = true;
                (Bytes::new(), true)
            }
        };
        let text = self.prepare(chunk, last);
        self.check(&text)?;
        if last && let Some(line) = self.quotes.unclosed() {
            let skipped = self.skipped.load(Ordering::Relaxed);
            return Err(unclosed_quote(
                &self.path,
                line + u64::from(skipped),
                self.quote,
            ));
        }
        Ok(Some(match &mut self.filter {
            Some(f) => Bytes::from(f.feed(&text, last)),
            None => text,
        }))
    }

    /// Decodes the next chunk into UTF-8 and drops the lines before the header.
    fn prepare(&mut self, chunk: Bytes, last: bool) -> Bytes {
        let mut text = self.text.decode(chunk, last);
        let mut skipped = self.skipped.load(Ordering::Relaxed);
        while skipped < self.skip && !text.is_empty() {
            match memchr::memchr(b'\n', &text) {
                Some(i) => {
                    text.advance(i + 1);
                    skipped += 1;
                }
                None => text = Bytes::new(),
            }
        }
        self.skipped.store(skipped, Ordering::Relaxed);
        text
    }

    /// Follows the quoting of the next bytes, and refuses a line longer than
    /// [`MAX_RECORD_BYTES`] before it is buffered.
    fn check(&mut self, chunk: &[u8]) -> Result<()> {
        self.quotes.feed(chunk);
        match memchr::memrchr(b'\n', chunk) {
            Some(last) => self.line_bytes = chunk.len() - last - 1,
            None => self.line_bytes += chunk.len(),
        }
        if self.line_bytes > MAX_RECORD_BYTES {
            return Err(Error::Parse {
                path: self.path.clone(),
                line: Some(self.quotes.line()),
                column: None,
                message: format!(
                    "the line runs on for more than {} MiB without a line end",
                    MAX_RECORD_BYTES >> 20
                ),
                hint: Some(
                    crate::error::Hint::text("check that the file is text with line ends (CSV)")
                        .into(),
                ),
            });
        }
        Ok(())
    }
}

//! A part's batches fed to DuckDB through a table function, `sluice_feed(token)`, so a
//! file is inserted with `INSERT … SELECT` on DuckDB's own threads: each thread takes the
//! next slice of the next batch, converts it into a data chunk and stores it, side by side
//! with the others, while the reader keeps parsing.
//!
//! DuckDB's C API gives a table function no batch index, so the insert is parallel only
//! when the load's connection does not preserve insertion order; a part whose rows must
//! stay in file order (deduplication keeps the first or last by position) is fed to one
//! thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::{
    BindInfo, InitInfo, TableFunctionInfo, VTab, record_batch_to_duckdb_data_chunk,
    to_duckdb_logical_type_for_field,
};
use tokio::sync::mpsc::Receiver;

use super::Msg;

/// The table function's name.
pub(super) const FUNCTION: &str = "sluice_feed";

/// Rows per data chunk: DuckDB's vector size.
const CHUNK_ROWS: usize = 2048;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The load's messages, read by the writer between parts and by the feed within one.
pub(super) struct Inbox {
    rx: Mutex<Receiver<Msg>>,
    /// The message that ended a part, for the writer to take next.
    held: Mutex<Option<Msg>>,
}

impl Inbox {
    pub(super) fn new(rx: Receiver<Msg>) -> Arc<Self> {
        Arc::new(Self {
            rx: Mutex::new(rx),
            held: Mutex::new(None),
        })
    }

    /// The next message; `None` when the reader is gone.
    pub(super) fn next(&self) -> Option<Msg> {
        if let Some(m) = lock(&self.held).take() {
            return Some(m);
        }
        lock(&self.rx).blocking_recv()
    }

    pub(super) fn hold(&self, m: Msg) {
        *lock(&self.held) = Some(m);
    }
}

/// One part's batches, from its first until the message that ends it.
pub(super) struct Feed {
    path: String,
    schema: SchemaRef,
    threads: u64,
    inbox: Arc<Inbox>,
    cursor: Mutex<Cursor>,
}

struct Cursor {
    batch: RecordBatch,
    offset: usize,
    ended: bool,
}

impl Feed {
    /// A feed that starts with the part's first batch.
    pub(super) fn new(path: &str, first: RecordBatch, threads: u64, inbox: Arc<Inbox>) -> Self {
        sluice_core::fault::hit("mid-load");
        Self {
            path: path.to_string(),
            schema: first.schema(),
            threads: threads.max(1),
            inbox,
            cursor: Mutex::new(Cursor {
                batch: first,
                offset: 0,
                ended: false,
            }),
        }
    }

    /// The next slice of at most one chunk's rows, `None` when the part has ended.
    fn next_slice(&self) -> Result<Option<RecordBatch>, String> {
        let mut c = lock(&self.cursor);
        loop {
            if c.ended {
                return Ok(None);
            }
            let rows = c.batch.num_rows();
            if c.offset < rows {
                let len = CHUNK_ROWS.min(rows - c.offset);
                let slice = c.batch.slice(c.offset, len);
                c.offset += len;
                return Ok(Some(slice));
            }
            match self.inbox.next() {
                Some(Msg::Batch(batch)) => {
                    let same = batch.num_columns() == self.schema.fields().len()
                        && batch
                            .schema()
                            .fields()
                            .iter()
                            .zip(self.schema.fields())
                            .all(|(a, b)| a.data_type() == b.data_type());
                    if !same {
                        c.ended = true;
                        return Err(format!(
                            "{}: a batch's columns differ from the file's first batch",
                            self.path
                        ));
                    }
                    sluice_core::fault::hit("mid-load");
                    c.batch = batch;
                    c.offset = 0;
                }
                Some(other) => {
                    self.inbox.hold(other);
                    c.ended = true;
                }
                // The reader is gone: the writer sees the closed channel next and rolls back.
                None => c.ended = true,
            }
        }
    }
}

static FEEDS: LazyLock<Mutex<HashMap<u64, Arc<Feed>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A feed registered for one `INSERT … SELECT * FROM sluice_feed(token)`; dropping it
/// unregisters the feed.
pub(super) struct Registration(u64);

impl Registration {
    pub(super) fn new(feed: Feed) -> Self {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        lock(&FEEDS).insert(token, Arc::new(feed));
        Self(token)
    }

    pub(super) fn token(&self) -> u64 {
        self.0
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let removed = lock(&FEEDS).remove(&self.0);
        drop(removed);
    }
}

/// Registers the table function on the database (once per database).
pub(super) fn register(conn: &Connection) -> duckdb::Result<()> {
    conn.register_table_function::<FeedVTab>(FUNCTION)
}

struct FeedVTab;

struct Bound {
    feed: Arc<Feed>,
}

impl VTab for FeedVTab {
    type InitData = ();
    type BindData = Bound;

    fn bind(bind: &BindInfo) -> Result<Self::BindData, Box<dyn std::error::Error>> {
        let token = bind.get_parameter(0).to_uint64();
        let feed = lock(&FEEDS)
            .get(&token)
            .cloned()
            .ok_or_else(|| format!("{FUNCTION}({token}): no such feed"))?;
        for f in feed.schema.fields() {
            bind.add_result_column(f.name(), to_duckdb_logical_type_for_field(f)?);
        }
        Ok(Bound { feed })
    }

    // DuckDB hands init its bind data only as a pointer.
    #[allow(unsafe_code)]
    fn init(init: &InitInfo) -> Result<Self::InitData, Box<dyn std::error::Error>> {
        // SAFETY: the bind data DuckDB hands back is the `Bound` set by `bind` above.
        let bound = unsafe { &*init.get_bind_data::<Bound>() };
        init.set_max_threads(bound.feed.threads);
        Ok(())
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        match func.get_bind_data().feed.next_slice()? {
            Some(slice) => record_batch_to_duckdb_data_chunk(&slice, output)?,
            None => output.set_len(0),
        }
        Ok(())
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::UBigint)])
    }
}

//! The path of one file, a stage per concern:
//!
//! ```text
//! reader ──► schema gate ──► row stages ──► sink
//! (format,   (the sample's    (each a        (rows and marker in one atomic load;
//!  decompression) columns vs    RowStage)     or push-down: the destination reads
//!                the job's)                    the file itself)
//! ```
//!
//! [`FilePipeline::load`] runs it for one claimed file and returns the rows loaded, or a
//! [`Failure`] that says which outcome it is and whether trying again could help. The
//! runner ([`crate::run`]) knows nothing of what a stage does: it claims, retries and
//! records. A row stage is a type implementing [`RowStage`] in a file of its own, added to
//! [`row_stages`]; push-down is chosen only when no stage needs to see the rows.

mod gate;
mod observe;
mod push_down;
mod read;
mod stage;

use std::sync::Arc;

use sluice_core::error::Hint;
use sluice_core::storage::{FileEntry, Store};
use sluice_sinks::{FileLoad, Sink};

pub(crate) use self::gate::{Gate, SchemaGate};
use self::observe::Observe;
use self::push_down::PushDown;
use self::read::Reader;
pub use self::stage::RowStage;
use crate::model::{FileOutcome, Job};
use crate::run::Progress;

/// What a committed file left: its rows, and a note when the destination read it itself.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub rows: u64,
    pub note: Option<String>,
}

/// A file's failure: what it was, why, and whether trying again could help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub outcome: FileOutcome,
    pub message: String,
    pub hint: Option<Hint>,
    pub transient: bool,
}

impl Failure {
    /// A reader's or gate's error as the file's outcome.
    pub(crate) fn from_core(e: sluice_core::Error) -> Self {
        let outcome = match &e {
            sluice_core::Error::Storage { .. } => FileOutcome::FailedStorage,
            sluice_core::Error::SchemaMismatch { .. } => FileOutcome::FailedSchemaMismatch,
            _ => FileOutcome::FailedParse,
        };
        Self {
            outcome,
            transient: e.is_transient(),
            hint: e.hint().cloned(),
            message: e.to_string(),
        }
    }

    /// A sink's error as the file's outcome: the reader's errors as the reader's.
    pub(crate) fn from_sink(file: &FileEntry, e: sluice_sinks::Error) -> Self {
        match e {
            sluice_sinks::Error::Source(e) => Self::from_core(e),
            other => Self {
                outcome: FileOutcome::FailedDestination,
                transient: other.is_transient(),
                hint: None,
                message: format!("{}: {other}", file.path),
            },
        }
    }
}

/// The row stages a job's files pass through, in order, between the gate and the sink.
fn row_stages(_job: &Job) -> Vec<Box<dyn RowStage>> {
    Vec::new()
}

/// One job's path for its files.
pub(crate) struct FilePipeline<'a> {
    job: &'a Job,
    store: &'a Store,
    sink: &'a dyn Sink,
    gate: SchemaGate<'a>,
    stages: Vec<Box<dyn RowStage>>,
    progress: Arc<dyn Progress>,
}

impl<'a> FilePipeline<'a> {
    pub(crate) fn new(
        job: &'a Job,
        store: &'a Store,
        sink: &'a dyn Sink,
        progress: Arc<dyn Progress>,
    ) -> Self {
        Self {
            job,
            store,
            sink,
            gate: SchemaGate::new(job),
            stages: row_stages(job),
            progress,
        }
    }

    /// Loads one claimed file: gate, then push-down where the destination can read the file
    /// and no stage needs its rows, else reader → stages → sink.
    /// A file with no rows (no bytes, or only blank lines) settles as loaded with none:
    /// there is nothing in it to wait for.
    pub(crate) async fn load(&self, file: &FileEntry, load: &FileLoad) -> Result<Loaded, Failure> {
        let checked = match self.gate.check(self.store, file).await {
            Ok(checked) => checked,
            Err(Gate::Empty(what)) => {
                return Ok(Loaded {
                    rows: 0,
                    note: Some(format!("{what}: nothing to load")),
                });
            }
            Err(Gate::Failed(f)) => return Err(f),
        };
        if self.stages.iter().all(|s| !s.needs_rows())
            && let Some(push_down) =
                PushDown::offer(self.store, file, &checked, self.job, self.sink)
        {
            let rows = push_down.load(self.job, load).await?;
            self.progress.rows(rows);
            return Ok(Loaded {
                rows,
                note: Some(push_down.note()),
            });
        }
        let mut batches = Reader::new(self.store, file, &self.job.file_format_options)
            .read(&self.job.schema)
            .await?;
        for stage in &self.stages {
            batches = stage.apply(batches);
        }
        let batches = Observe::new(Arc::clone(&self.progress)).apply(batches);
        let receipt = self
            .sink
            .load(
                &self.job.table_name,
                &self.job.schema,
                load,
                self.job.load_type,
                batches,
            )
            .await
            .map_err(|e| Failure::from_sink(file, e))?;
        Ok(Loaded {
            rows: receipt.rows,
            note: None,
        })
    }
}

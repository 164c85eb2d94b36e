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
mod lineage;
mod observe;
mod push_down;
mod read;
mod stage;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use sluice_core::error::Hint;
use sluice_core::format::{self, BatchStream};
use sluice_core::storage::{FileEntry, Store};
use sluice_sinks::{FileLoad, Load, Part, Sink};

pub(crate) use self::gate::{Gate, SchemaGate};
use self::lineage::Lineage;
use self::observe::Observe;
use self::push_down::PushDown;
use self::read::Reader;
pub(crate) use self::read::reading_of;
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
    /// The failure as a file's outcome in its run record.
    pub(crate) fn onto(&self, record: &mut crate::model::RunFile) {
        record.outcome = self.outcome;
        record.message = Some(self.message.clone());
        record.hint = self.hint.clone();
    }

    /// A reader's or gate's error as the file's outcome.
    pub(crate) fn from_core(e: sluice_core::Error) -> Self {
        let outcome = match &e {
            sluice_core::Error::Changed { .. } => FileOutcome::SkippedChanged,
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
    /// When the run started: each row's `_sluice_loaded_at`.
    loaded_at: DateTime<Utc>,
}

impl<'a> FilePipeline<'a> {
    pub(crate) fn new(
        job: &'a Job,
        store: &'a Store,
        sink: &'a dyn Sink,
        progress: Arc<dyn Progress>,
        loaded_at: DateTime<Utc>,
    ) -> Self {
        Self {
            job,
            store,
            sink,
            gate: SchemaGate::new(job),
            stages: row_stages(job),
            progress,
            loaded_at,
        }
    }

    /// Loads `parts` into the job's table as one load, `load_id`, in the job's mode.
    async fn commit(
        &self,
        load_id: &str,
        parts: Vec<Part>,
    ) -> Result<sluice_sinks::LoadReceipt, sluice_sinks::Error> {
        let load = Load {
            load_id: load_id.to_string(),
            mode: self.job.load_type,
            parts,
        };
        self.sink
            .load_parts(&self.job.table_name, &self.job.table_columns(), load)
            .await
    }

    pub(crate) fn store(&self) -> &Store {
        self.store
    }

    pub(crate) fn sink(&self) -> &dyn Sink {
        self.sink
    }

    /// A file's batches after the reader: the row stages, the lineage columns, progress.
    fn staged(&self, file: &FileEntry, mut batches: BatchStream) -> BatchStream {
        for stage in &self.stages {
            batches = stage.apply(batches);
        }
        if self.job.settings.lineage {
            batches = Lineage::new(&file.path, self.loaded_at).apply(batches);
        }
        Observe::new(Arc::clone(&self.progress)).apply(batches)
    }

    /// Loads one claimed file: gate, then push-down where the destination can read the file
    /// and nothing needs its rows (no stage, no lineage, no rows to replace), else reader →
    /// stages → sink. `reload` replaces the rows its earlier versions left, in the same
    /// transaction. A file with no rows (no bytes, or only blank lines) settles as loaded
    /// with none: there is nothing in it to wait for.
    pub(crate) async fn load(
        &self,
        file: &FileEntry,
        load: &FileLoad,
        reload: bool,
    ) -> Result<Loaded, Failure> {
        let (checked, emptied) = match self.gate.check(self.store, file).await {
            Ok(checked) => (checked, false),
            Err(Gate::Empty(what)) if !reload => {
                return Ok(Loaded {
                    rows: 0,
                    note: Some(format!("{what}: nothing to load")),
                });
            }
            // An emptied file that was loaded before: its old rows go.
            Err(Gate::Empty(_)) => (self.gate.empty(), true),
            Err(Gate::Failed(f)) => return Err(f),
        };
        if !reload
            && !self.job.settings.lineage
            && self.stages.iter().all(|s| !s.needs_rows())
            && let Some(push_down) =
                PushDown::offer(self.store, file, &checked, self.job, self.sink)
        {
            let rows = push_down.load(self.job, self.store, load).await?;
            self.progress.rows(rows);
            return Ok(Loaded {
                rows,
                note: Some(push_down.note()),
            });
        }
        let batches = if emptied {
            futures::stream::empty().boxed()
        } else {
            Reader::new(
                self.store,
                file,
                &self.job.file_format_options,
                read::reading_of(&self.job.settings),
            )
            .read(&self.job.schema)
            .await?
        };
        let part = Part {
            file_path: file.path.clone(),
            file_version: load.file_version.clone(),
            replace_rows: reload,
            batches: self.staged(file, batches),
        };
        let receipt = self
            .commit(&load.load_id, vec![part])
            .await
            .map_err(|e| Failure::from_sink(file, e))?;
        Ok(Loaded {
            rows: receipt.rows,
            note: reload.then(|| "its earlier version's rows replaced".to_string()),
        })
    }

    /// Loads several claimed files as one load (`load_id`), in one transaction: a replace
    /// run of several files replaces the table with all of them. Each file passes the gate
    /// first; the first that does not fails them all, nothing loaded. Files are opened one
    /// at a time, as the load reaches them. Returns each file's rows.
    pub(crate) async fn load_together(
        &self,
        files: &[&FileEntry],
        load_id: &str,
    ) -> Result<Vec<u64>, (usize, Failure)> {
        let mut parts = Vec::with_capacity(files.len());
        let mut empty = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            match self.gate.check(self.store, file).await {
                Ok(_) => empty.push(false),
                Err(Gate::Empty(_)) => {
                    empty.push(true);
                    continue;
                }
                Err(Gate::Failed(f)) => return Err((i, f)),
            }
            let (store, owned, options, columns, reading) = (
                self.store.clone(),
                (*file).clone(),
                self.job.file_format_options.clone(),
                self.job.schema.clone(),
                read::reading_of(&self.job.settings),
            );
            let batches = futures::stream::once(async move {
                format::read_with(&store, &owned, &options, &columns, &reading).await
            })
            .try_flatten()
            .boxed();
            parts.push(Part {
                file_path: file.path.clone(),
                file_version: file.version_key(),
                replace_rows: false,
                batches: self.staged(file, batches),
            });
        }
        let receipt = self.commit(load_id, parts).await.map_err(|e| {
            let at = match &e {
                sluice_sinks::Error::Source(core) => {
                    let m = core.to_string();
                    files
                        .iter()
                        .position(|f| m.starts_with(&f.path))
                        .unwrap_or(0)
                }
                _ => 0,
            };
            (at, Failure::from_sink(files[at], e))
        })?;
        let mut counts = receipt.parts.into_iter();
        Ok(empty
            .into_iter()
            .map(|e| if e { 0 } else { counts.next().unwrap_or(0) })
            .collect())
    }
}

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

mod failure;
mod gate;
mod lineage;
mod observe;
mod push_down;
mod quarantine;
mod read;
mod replay;
mod rescue;
mod rules;
mod stage;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use sluice_core::format::{self, BatchStream};
use sluice_core::storage::{FileEntry, Store};
use sluice_sinks::{FileLoad, Load, Part, Sink};

pub(crate) use self::failure::Failure;
pub(crate) use self::gate::{Admission, Gate, Refused, SchemaGate};
use self::lineage::Lineage;
use self::observe::Observe;
use self::push_down::PushDown;
use self::quarantine::Quarantine;
use self::read::Reader;
pub(crate) use self::read::reading_of;
use self::rescue::Rescue;
pub use self::stage::RowStage;
use crate::catalog::SchemaCatalog;
use crate::model::{FileOutcome, Job, NewSchemaVersion, SchemaPolicy};
use crate::run::Progress;

/// What a committed file left: its rows, and a note when the destination read it itself.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub rows: u64,
    /// Rows sent to the quarantine table instead.
    pub rejected: u64,
    pub note: Option<String>,
}

/// What the job's schema policy would do with a file of the `detected` schema, where it
/// takes a difference: for plans, before a run.
pub(crate) fn taken_by_policy(
    job: &Job,
    detected: &sluice_core::schema::DetectedSchema,
) -> Option<String> {
    let policy = job.settings.schema_policy;
    match SchemaGate::judge(job, detected) {
        Ok(Admission::Evolve { columns, .. }) => Some(format!(
            "{policy}: {}",
            sluice_core::schema::TableChange::between(&job.schema, &columns)
        )),
        Ok(Admission::Rescue(_)) => Some(format!(
            "{policy}: values the job's columns cannot hold go to _rescued"
        )),
        _ => None,
    }
}

/// The row stages a job's files pass through, in order, between the gate and the sink.
fn row_stages(_job: &Job) -> Vec<Box<dyn RowStage>> {
    Vec::new()
}

/// One job's path for its files.
pub(crate) struct FilePipeline<'a> {
    /// The job as its files find it: its schema grows as a policy takes their changes.
    job: RwLock<Arc<Job>>,
    store: &'a Store,
    sink: &'a dyn Sink,
    schemas: &'a dyn SchemaCatalog,
    stages: Vec<Box<dyn RowStage>>,
    progress: Arc<dyn Progress>,
    /// When the run started: each row's `_sluice_loaded_at`.
    loaded_at: DateTime<Utc>,
    /// The run, recorded with each row it quarantines.
    run_id: i64,
    /// Files loading at once pass the gate one at a time: what one's admission records
    /// (a proposed version) the next sees.
    admitting: tokio::sync::Mutex<()>,
}

/// Why a file is not let through.
enum NotAdmitted {
    /// It holds no rows (what it holds instead).
    Empty(String),
    Failed(Failure),
}

impl From<Failure> for NotAdmitted {
    fn from(f: Failure) -> Self {
        Self::Failed(f)
    }
}

/// A file the gate let through: how it is read, and what its admission did.
struct Admitted {
    /// The job its rows load under (its schema evolved to hold them, if it was).
    job: Arc<Job>,
    detected: sluice_core::schema::DetectedSchema,
    rescue: Option<Rescue>,
    /// What the file changed in the job's schema, for its record.
    note: Option<String>,
}

impl<'a> FilePipeline<'a> {
    pub(crate) fn new(
        job: &Job,
        store: &'a Store,
        sink: &'a dyn Sink,
        schemas: &'a dyn SchemaCatalog,
        progress: Arc<dyn Progress>,
        loaded_at: DateTime<Utc>,
        run_id: i64,
    ) -> Self {
        Self {
            job: RwLock::new(Arc::new(job.clone())),
            store,
            sink,
            schemas,
            stages: row_stages(job),
            progress,
            loaded_at,
            run_id,
            admitting: tokio::sync::Mutex::new(()),
        }
    }

    /// The job as it stands now.
    fn job(&self) -> Arc<Job> {
        Arc::clone(&self.job.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Passes a file through the gate, taking its columns as the job's policy allows: a
    /// schema change is made in the table first, then recorded as the job's new version (so
    /// a crash between leaves a table ahead of the job, which loads as before, and the next
    /// file with the change makes it again, changing nothing twice). A refused file's
    /// columns are kept as a proposed version.
    async fn admit(&self, file: &FileEntry) -> Result<Admitted, NotAdmitted> {
        let job = self.job();
        let checked = match SchemaGate::check(&job, self.store, file).await {
            Ok(checked) => checked,
            Err(Gate::Refused(refused)) => {
                let Refused {
                    diff,
                    why,
                    proposal,
                    fingerprint,
                } = *refused;
                let proposed = match proposal {
                    Some(schema) => Some(
                        self.schemas
                            .propose_schema(
                                job.id,
                                &NewSchemaVersion {
                                    change: sluice_core::schema::TableChange::between(
                                        &job.schema,
                                        &schema,
                                    ),
                                    schema,
                                    diff: Some(diff.clone()),
                                    file_path: Some(file.path.clone()),
                                    file_fingerprint: Some(fingerprint),
                                    how: "proposed".into(),
                                },
                            )
                            .await
                            .map_err(|e| Failure::catalog(file, e))?
                            .version,
                    ),
                    None => None,
                };
                return Err(SchemaGate::refusal(&job, file, diff, &why, proposed).into());
            }
            Err(Gate::Empty(what)) => return Err(NotAdmitted::Empty(what)),
            Err(Gate::Failed(f)) => return Err(f.into()),
        };
        let detected = checked.detected;
        match checked.admission {
            Admission::Matches => Ok(Admitted {
                rescue: (job.settings.schema_policy == SchemaPolicy::Rescue)
                    .then(|| Rescue::nothing(&job).of(&file.path)),
                job,
                detected,
                note: None,
            }),
            Admission::Rescue(rescue) => Ok(Admitted {
                rescue: Some(rescue.of(&file.path)),
                job,
                detected,
                note: None,
            }),
            Admission::Evolve { columns, diff } => {
                let change = sluice_core::schema::TableChange::between(&job.schema, &columns);
                self.sink
                    .alter_table(&job.table_name, &change)
                    .await
                    .map_err(|e| Failure {
                        outcome: FileOutcome::FailedDestination,
                        transient: e.is_transient(),
                        hint: None,
                        message: format!(
                            "{}: the job's schema policy ({}) takes the file's columns, but changing table {} failed ({change}): {e}",
                            file.path, job.settings.schema_policy, job.table_name
                        ),
                    })?;
                let version = self
                    .schemas
                    .accept_schema(
                        job.id,
                        None,
                        &NewSchemaVersion {
                            schema: columns.clone(),
                            diff: Some(diff),
                            change: change.clone(),
                            file_path: Some(file.path.clone()),
                            file_fingerprint: Some(detected.schema_fingerprint.clone()),
                            how: job.settings.schema_policy.to_string(),
                        },
                        &detected.schema_fingerprint,
                        None,
                    )
                    .await
                    .map_err(|e| Failure::catalog(file, e))?;
                let mut evolved = (*job).clone();
                evolved.schema = columns;
                evolved.schema_fingerprint = detected.schema_fingerprint.clone();
                let evolved = Arc::new(evolved);
                *self.job.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&evolved);
                Ok(Admitted {
                    job: evolved,
                    detected,
                    rescue: None,
                    note: Some(format!("schema version {}: {change}", version.version)),
                })
            }
        }
    }

    /// Loads `parts` into the job's table as one load, `load_id`, in the job's mode.
    async fn commit(
        &self,
        load_id: &str,
        parts: Vec<Part>,
    ) -> Result<sluice_sinks::LoadReceipt, sluice_sinks::Error> {
        let job = self.job();
        let load = Load {
            load_id: load_id.to_string(),
            mode: job.load_type,
            parts,
            dedup: job.settings.dedup.clone(),
        };
        self.sink
            .load_parts(&job.table_name, &job.table_columns(), load)
            .await
    }

    pub(crate) fn store(&self) -> &Store {
        self.store
    }

    pub(crate) fn sink(&self) -> &dyn Sink {
        self.sink
    }

    /// A file's batches after the reader: the rescue of what the job's columns cannot hold,
    /// record numbers, the typing of text a quarantine reads ([`Quarantine::typed`]), the
    /// job's row rules, the quarantine's limit, the row stages, the lineage columns,
    /// progress. Returns the rules stage too, which says afterwards what it did.
    fn staged(
        &self,
        job: &Job,
        path: &str,
        rescue: Option<&Rescue>,
        quarantine: Option<&Quarantine>,
        mut batches: BatchStream,
    ) -> (BatchStream, Option<rules::Rules>) {
        if let Some(rescue) = rescue {
            batches = rescue.apply(batches);
        }
        // The columns as the file holds them, then as the rules make them.
        let mut columns = job.schema.clone();
        if rescue.is_some() {
            columns.push(sluice_core::schema::evolve::rescued_column());
        }
        let read = sluice_core::schema::read_view(&columns);
        // Record numbers, where a stage may leave rows out before the lineage stage numbers
        // them (the lineage stage counts rows itself otherwise).
        if quarantine.is_some() || !job.settings.row_rules.is_empty() {
            let numbering = quarantine
                .cloned()
                .unwrap_or_else(|| Quarantine::counting(path));
            batches = numbering.numbered(batches);
        }
        if let Some(q) = quarantine {
            batches = q.typed(read, batches);
        }
        let rules = (!job.settings.row_rules.is_empty()).then(|| {
            rules::Rules::new(&job.settings.row_rules, columns, path, quarantine.cloned())
        });
        if let Some(rules) = &rules {
            batches = rules.apply(batches);
        }
        if let Some(q) = quarantine {
            batches = q.limited(batches);
        }
        if job.settings.lineage {
            batches = Lineage::new(path, self.loaded_at).apply(batches);
        } else {
            batches = quarantine::unnumbered(batches);
        }
        for stage in &self.stages {
            batches = stage.apply(batches);
        }
        (
            Observe::new(Arc::clone(&self.progress)).apply(batches),
            rules,
        )
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
        let admission = {
            let _one_at_a_time = self.admitting.lock().await;
            self.admit(file).await
        };
        let admitted = match admission {
            Ok(admitted) => Some(admitted),
            Err(NotAdmitted::Empty(what)) if !reload => {
                return Ok(Loaded {
                    rows: 0,
                    rejected: 0,
                    note: Some(format!("{what}: nothing to load")),
                });
            }
            // An emptied file that was loaded before: its old rows go.
            Err(NotAdmitted::Empty(_)) => None,
            Err(NotAdmitted::Failed(f)) => return Err(f),
        };
        let job = admitted
            .as_ref()
            .map_or_else(|| self.job(), |a| Arc::clone(&a.job));
        let rescue = admitted.as_ref().and_then(|a| a.rescue.clone());
        let schema_note = admitted.as_ref().and_then(|a| a.note.clone());
        if !reload
            && !job.settings.lineage
            && rescue.is_none()
            && job.settings.row_rules.is_empty()
            && !job.settings.max_rejected.quarantines()
            && job.settings.dedup.is_none()
            && self.stages.iter().all(|s| !s.needs_rows())
            && let Some(admitted) = &admitted
            && let Some(push_down) =
                PushDown::offer(self.store, file, &admitted.detected, &job, self.sink)
        {
            let rows = push_down.load(&job, self.store, load).await?;
            self.progress.rows(rows);
            return Ok(Loaded {
                rows,
                rejected: 0,
                note: joined(schema_note, Some(push_down.note())),
            });
        }
        let quarantine = Quarantine::of(&job, &file.path, self.run_id, rescue.is_some());
        let batches = if admitted.is_none() {
            futures::stream::empty().boxed()
        } else {
            let columns = rescue.as_ref().map_or_else(
                || sluice_core::schema::read_view(&job.schema),
                |r| r.read_columns().to_vec(),
            );
            let columns = quarantine
                .as_ref()
                .map_or_else(|| columns.clone(), |q| q.read_columns(&columns));
            Reader::new(
                self.store,
                file,
                &job.file_format_options,
                read::reading_of(&job.settings),
            )
            .read(&columns)
            .await?
        };
        let (batches, rules) = self.staged(
            &job,
            &file.path,
            rescue.as_ref(),
            quarantine.as_ref(),
            batches,
        );
        let (batches, read) = counted(batches);
        let part = Part {
            file_path: file.path.clone(),
            file_version: load.file_version.clone(),
            replace_rows: reload,
            batches,
            rejects: quarantine.as_ref().map(|q| q.rejects.clone()),
            clear_rejected: false,
        };
        let receipt = self
            .commit(&load.load_id, vec![part])
            .await
            .map_err(|e| Failure::from_sink(file, e))?;
        let note = joined(
            schema_note,
            reload.then(|| "its earlier version's rows replaced".to_string()),
        );
        let note = joined(note, rules.and_then(|r| r.note()));
        let read = read.load(std::sync::atomic::Ordering::SeqCst);
        let note = joined(note, duplicates(&job, read, receipt.rows));
        Ok(Loaded {
            rows: receipt.rows,
            rejected: quarantine.as_ref().map_or(0, |q| q.rejects.len() as u64),
            note: joined(note, quarantine.and_then(|q| q.note(&job.table_name))),
        })
    }

    /// Loads several claimed files as one load (`load_id`), in one transaction: a replace
    /// run of several files replaces the table with all of them. Each file passes the gate
    /// first; the first that does not fails them all, nothing loaded. Files are opened one
    /// at a time, as the load reaches them. Returns each file's rows, loaded and rejected.
    pub(crate) async fn load_together(
        &self,
        files: &[&FileEntry],
        load_id: &str,
    ) -> Result<Vec<(u64, u64)>, (usize, Failure)> {
        // Every file through the gate first: a change one of them makes to the job's schema
        // is the schema all of them are read in.
        let mut admitted = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            match self.admit(file).await {
                Ok(a) => admitted.push(Some(a)),
                Err(NotAdmitted::Empty(_)) => admitted.push(None),
                Err(NotAdmitted::Failed(f)) => return Err((i, f)),
            }
        }
        let job = self.job();
        let mut parts = Vec::with_capacity(files.len());
        let mut rejects = Vec::with_capacity(files.len());
        for (file, admitted) in files.iter().zip(&admitted) {
            let Some(admitted) = admitted else { continue };
            // Rescued columns follow the file's own difference from the final schema.
            let rescue = admitted.rescue.clone();
            let columns = rescue.as_ref().map_or_else(
                || sluice_core::schema::read_view(&job.schema),
                |r| r.read_columns().to_vec(),
            );
            let quarantine = Quarantine::of(&job, &file.path, self.run_id, rescue.is_some());
            let columns = quarantine
                .as_ref()
                .map_or(columns.clone(), |q| q.read_columns(&columns));
            let (store, owned, options, reading) = (
                self.store.clone(),
                (*file).clone(),
                job.file_format_options.clone(),
                read::reading_of(&job.settings),
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
                batches: self
                    .staged(
                        &job,
                        &file.path,
                        rescue.as_ref(),
                        quarantine.as_ref(),
                        batches,
                    )
                    .0,
                rejects: quarantine.as_ref().map(|q| q.rejects.clone()),
                clear_rejected: false,
            });
            rejects.push(quarantine.map(|q| q.rejects));
        }
        let empty: Vec<bool> = admitted.iter().map(Option::is_none).collect();
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
        let mut counts = receipt.parts.into_iter().zip(rejects);
        Ok(empty
            .into_iter()
            .map(|e| {
                if e {
                    (0, 0)
                } else {
                    counts
                        .next()
                        .map_or((0, 0), |(rows, r)| (rows, r.map_or(0, |r| r.len() as u64)))
                }
            })
            .collect())
    }
}

/// The batches, and how many rows passed through them.
fn counted(batches: BatchStream) -> (BatchStream, Arc<std::sync::atomic::AtomicU64>) {
    let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = Arc::clone(&n);
    let batches = batches
        .inspect(move |b| {
            if let Ok(b) = b {
                seen.fetch_add(b.num_rows() as u64, std::sync::atomic::Ordering::SeqCst);
            }
        })
        .boxed();
    (batches, n)
}

/// What deduplication left out of a file that sent `read` rows and added `added`.
fn duplicates(job: &Job, read: u64, added: u64) -> Option<String> {
    let dedup = job.settings.dedup.as_ref()?;
    (read > added).then(|| {
        format!(
            "{} row(s) left out as duplicates by key {} (keep {})",
            read - added,
            dedup.key.join(", "),
            dedup.keep
        )
    })
}

/// Two notes as one, either or both absent.
fn joined(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

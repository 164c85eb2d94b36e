//! Loads that go through a staging table: those that replace the rows earlier versions of
//! their files left, and those that write rejected rows to the quarantine table. The parts
//! (and the rejected rows) are loaded into staging tables first, each by a load job of its
//! own; then one multi-statement transaction moves them into place. That transaction's
//! query job is the load's marker (`sluice_<load_id>`), so [`Sink::was_loaded`] sees the
//! load only once it committed, and both tables change together or not at all.

use futures::StreamExt;
use sluice_core::names::TableName;
use sluice_core::schema::{Column, lineage};

use super::{BigQuerySink, UploadTo, marker_of, string_literal};
use crate::quarantine::{self, Rejects};
use crate::{Error, FileLoad, Load, LoadMode, LoadReceipt, Part, Result, Sink};

/// What a staged load does besides inserting its rows.
#[derive(Clone, Copy, Default)]
pub(super) struct Moves<'a> {
    /// Files whose earlier rows are deleted first.
    pub replaced: &'a [String],
    pub quarantined: Option<&'a Quarantined>,
    pub dedup: Option<&'a crate::dedup::Dedup>,
}

/// What a staged load writes to the quarantine table.
pub(super) struct Quarantined {
    table: TableName,
    /// The staging table of its rejected rows, if there are any.
    stage: Option<TableName>,
    /// Files whose rows it held are replayed: deleted first.
    cleared: Vec<String>,
}

impl BigQuerySink {
    /// A load through staging tables (see the module's documentation).
    pub(super) async fn load_staged(
        &self,
        table: &TableName,
        columns: &[Column],
        load: Load,
    ) -> Result<LoadReceipt> {
        let (what, marker) = marker_of(&load);
        let job_id = self.next_attempt(table, &marker).await?;
        let stage = self.stage_table(table, &job_id, columns, &what).await?;
        let replaced: Vec<String> = load
            .parts
            .iter()
            .filter(|p| p.replace_rows)
            .map(|p| p.file_path.clone())
            .collect();
        // Each part's rejects, taken once its rows are sent.
        let rejects: Vec<(String, bool, Option<Rejects>)> = load
            .parts
            .iter()
            .map(|p| (p.file_path.clone(), p.clear_rejected, p.rejects.clone()))
            .collect();
        let quarantines = load.quarantines();
        let dedup = load.dedup.clone();
        let load_id = load.load_id.clone();
        let stage_job = format!("{job_id}_stage");
        let mut quarantined: Option<Quarantined> = None;
        let result = async {
            let (state, parts) = self
                // Appended to the new, empty stage: a load that replaces a table with no rows
                // would leave it without its columns.
                .upload(
                    &stage_job,
                    &stage,
                    columns,
                    UploadTo::Stage,
                    load.parts,
                    &what,
                )
                .await?;
            let staged = FileLoad {
                load_id: stage_job.clone(),
                ..marker.clone()
            };
            self.receipt(&stage, &staged, &stage_job, state, parts.iter().sum())?;
            let mut parts = parts;
            if let Some(dedup) = &dedup {
                // What the keyed insert will add, counted before it runs (the lease keeps
                // other loads of the table away).
                let added = self.count_kept(dedup, table, &stage, columns).await?;
                parts = if parts.len() == 1 { vec![added] } else { parts };
            }
            if quarantines {
                quarantined = Some(
                    self.stage_rejected(table, &job_id, &load_id, &marker, &what, &rejects)
                        .await?,
                );
            }
            let script = self.commit_script(
                table,
                &stage,
                columns,
                load.mode,
                &Moves {
                    replaced: &replaced,
                    quarantined: quarantined.as_ref(),
                    dedup: dedup.as_ref(),
                },
            );
            self.run_script(&job_id, &script).await?;
            Ok::<_, Error>(parts)
        }
        .await;
        let _ = self.drop_table(&stage).await;
        if let Some(stage) = quarantined.and_then(|q| q.stage) {
            let _ = self.drop_table(&stage).await;
        }
        let parts = result.map_err(|e| e.about(&what))?;
        Ok(LoadReceipt {
            load_id: load.load_id,
            rows: parts.iter().sum(),
            parts,
        })
    }

    /// How many staged rows a keyed insert adds.
    async fn count_kept(
        &self,
        dedup: &crate::dedup::Dedup,
        table: &TableName,
        stage: &TableName,
        columns: &[Column],
    ) -> Result<u64> {
        let cols = columns
            .iter()
            .map(|c| backticks(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let kept = crate::dedup::kept_sql(
            dedup,
            &self.sql_table(table),
            &self.sql_table(stage),
            &cols,
            order_of(columns),
            backticks,
        );
        let rows = self
            .query(&format!("SELECT COUNT(*) FROM ({kept})"))
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_str())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Makes the quarantine table if it is missing and loads the parts' rejected rows into
    /// a staging table beside it.
    async fn stage_rejected(
        &self,
        table: &TableName,
        job_id: &str,
        load_id: &str,
        marker: &FileLoad,
        what: &str,
        rejects: &[(String, bool, Option<Rejects>)],
    ) -> Result<Quarantined> {
        let target = quarantine::table_of(table);
        let columns = quarantine::columns();
        self.create_or_check_table(&target, &columns).await?;
        let batches: Vec<_> = rejects
            .iter()
            .filter_map(|(file, _, r)| r.as_ref()?.batch(file, load_id))
            .collect();
        let cleared = rejects
            .iter()
            .filter(|(_, clear, _)| *clear)
            .map(|(file, _, _)| file.clone())
            .collect();
        if batches.is_empty() {
            return Ok(Quarantined {
                table: target,
                stage: None,
                cleared,
            });
        }
        let stage_job = format!("{job_id}_rejected");
        let stage = self
            .stage_table(&target, &stage_job, &columns, what)
            .await?;
        let part = Part {
            file_path: what.to_string(),
            file_version: String::new(),
            replace_rows: false,
            batches: futures::stream::iter(batches.into_iter().map(Ok)).boxed(),
            rejects: None,
            clear_rejected: false,
        };
        let staged = async {
            let (state, rows) = self
                .upload(
                    &stage_job,
                    &stage,
                    &columns,
                    UploadTo::Stage,
                    vec![part],
                    what,
                )
                .await?;
            let file = FileLoad {
                load_id: stage_job.clone(),
                ..marker.clone()
            };
            self.receipt(&stage, &file, &stage_job, state, rows.iter().sum())
        }
        .await;
        if let Err(e) = staged {
            let _ = self.drop_table(&stage).await;
            return Err(e);
        }
        sluice_core::fault::hit("mid-quarantine");
        Ok(Quarantined {
            table: target,
            stage: Some(stage),
            cleared,
        })
    }

    /// A staging table for load `job_id` into `table`, new and empty, with `columns`.
    pub(super) async fn stage_table(
        &self,
        table: &TableName,
        job_id: &str,
        columns: &[Column],
        what: &str,
    ) -> Result<TableName> {
        // A table name is at most 63 characters, job ids are longer: the stage is named
        // by a hash of its job's id.
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            job_id.hash(&mut h);
            h.finish()
        };
        let stage = TableName::parse(&format!(
            "{}._sluice_stage_{hash:016x}",
            self.dataset_of(table)
        ))
        .map_err(|e| self.error(format!("{what}: staging table: {e}")))?;
        self.drop_table(&stage).await?;
        self.create_or_check_table(&stage, columns).await?;
        Ok(stage)
    }

    /// The multi-statement transaction that moves a staged load into `table`: the table's
    /// rows deleted first (`Replace`) or those of the `replaced` files, then the staged
    /// rows inserted, and the quarantine table's changes beside them. Run as the load's
    /// marker job, it commits all of it or nothing.
    pub(super) fn commit_script(
        &self,
        table: &TableName,
        stage: &TableName,
        columns: &[Column],
        mode: LoadMode,
        moves: &Moves<'_>,
    ) -> String {
        let Moves {
            replaced,
            quarantined,
            dedup,
        } = *moves;
        let names: Vec<String> = columns.iter().map(|c| format!("`{}`", c.name)).collect();
        let mut script = String::from("BEGIN TRANSACTION;\n");
        if mode == LoadMode::Replace {
            script.push_str(&format!(
                "DELETE FROM {} WHERE TRUE;\n",
                self.sql_table(table)
            ));
        } else if !replaced.is_empty() {
            let files: Vec<String> = replaced.iter().map(|f| string_literal(f)).collect();
            script.push_str(&format!(
                "DELETE FROM {} WHERE {} IN ({});\n",
                self.sql_table(table),
                lineage::FILE,
                files.join(", ")
            ));
        }
        match dedup {
            Some(dedup) => {
                for sql in crate::dedup::move_sql(
                    dedup,
                    &self.sql_table(table),
                    &self.sql_table(stage),
                    columns,
                    order_of(columns),
                    backticks,
                ) {
                    script.push_str(&sql);
                    script.push_str(";\n");
                }
            }
            None => script.push_str(&format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {};\n",
                self.sql_table(table),
                self.sql_table(stage),
                cols = names.join(", ")
            )),
        }
        if let Some(q) = quarantined {
            if !q.cleared.is_empty() {
                let files: Vec<String> = q.cleared.iter().map(|f| string_literal(f)).collect();
                script.push_str(&format!(
                    "DELETE FROM {} WHERE {} IN ({});\n",
                    self.sql_table(&q.table),
                    quarantine::column::FILE,
                    files.join(", ")
                ));
            }
            if let Some(stage) = &q.stage {
                let cols: Vec<String> = quarantine::columns()
                    .iter()
                    .map(|c| format!("`{}`", c.name))
                    .collect();
                script.push_str(&format!(
                    "INSERT INTO {} ({cols}) SELECT {cols} FROM {};\n",
                    self.sql_table(&q.table),
                    self.sql_table(stage),
                    cols = cols.join(", ")
                ));
            }
        }
        script.push_str("COMMIT TRANSACTION;");
        script
    }
}

/// An identifier quoted for GoogleSQL.
fn backticks(name: &str) -> String {
    format!("`{name}`")
}

/// The order of a staged part's rows: their record numbers, where the table has them.
fn order_of(columns: &[Column]) -> Option<&'static str> {
    columns
        .iter()
        .any(|c| c.name == lineage::LINE)
        .then_some("`_sluice_line`")
}

//! DuckDB, embedded: the zero-setup default destination.
//!
//! One database file. Each load runs in one transaction on a blocking thread: an optional
//! `DELETE` (replace), then per file an optional `DELETE` of its earlier rows (a changed
//! file reloaded) and its batches by `INSERT … SELECT` from a table function that feeds
//! them to DuckDB's threads (`feed`), and the marker row; the reader keeps parsing on the
//! async side meanwhile, so parsing and inserting overlap.

mod config;
mod feed;
mod types;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use duckdb::{Connection, params};
use futures::StreamExt;
use sluice_core::names::{TableName, quote_ident};
use sluice_core::schema::{Column, WarehouseType, lineage};

pub use self::config::{DuckDbConfig, WAREHOUSE_FILE};
pub use self::types::{TYPE_MAP, duckdb_type};
use crate::{Error, Inspect, Load, LoadMode, LoadReceipt, Result, Sink, TableLoad};

/// Batches in flight between the reader and the insert.
const PIPELINE_DEPTH: usize = 4;

const MARKERS: &str = "CREATE TABLE IF NOT EXISTS _sluice_loads (
    load_id VARCHAR PRIMARY KEY,
    table_name VARCHAR NOT NULL,
    file_path VARCHAR NOT NULL,
    file_version VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    loaded_at VARCHAR NOT NULL
)";

/// A DuckDB database file.
pub struct DuckDbSink {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    /// DuckDB's threads: how many insert a part side by side.
    threads: u64,
}

impl std::fmt::Debug for DuckDbSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckDbSink")
            .field("path", &self.path)
            .finish()
    }
}

enum Msg {
    /// The next part (file) begins.
    Part {
        path: String,
        replace_rows: bool,
    },
    Batch(RecordBatch),
    /// The part's batches ended: its rejected rows (and, for a replay, first delete those
    /// the quarantine table held for it).
    Rejected {
        path: String,
        clear: bool,
        batch: Option<RecordBatch>,
    },
    /// Every part was sent: commit.
    Done,
    /// The reader failed: roll back.
    Abort,
}

impl DuckDbSink {
    /// Opens (creating if needed) the database file and its marker table.
    ///
    /// # Errors
    /// When the folder cannot be created or DuckDB cannot open the file (for example
    /// because another process holds it).
    pub fn open(path: &Path) -> Result<Self> {
        let destination = format!("duckdb:{}", path.display());
        let fail = |message: String| Error::Destination {
            destination: destination.clone(),
            message,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| {
            let hint = if e.to_string().contains("lock") {
                " (is another sluice or duckdb process using it? close it and retry)"
            } else {
                ""
            };
            fail(format!("cannot open the database: {e}{hint}"))
        })?;
        conn.execute_batch(MARKERS)
            .map_err(|e| fail(e.to_string()))?;
        feed::register(&conn).map_err(|e| fail(e.to_string()))?;
        let threads = conn
            .query_row("SELECT current_setting('threads')", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            threads: threads.max(1) as u64,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Destination {
            destination: self.describe(),
            message: e.to_string(),
        }
    }

    /// A connection of its own to the same database, for one operation.
    fn clone_connection(&self) -> Result<Connection> {
        self.conn
            .lock()
            .expect("connection lock")
            .try_clone()
            .map_err(|e| self.error(e))
    }

    /// Runs `f` on a connection of its own, on a blocking thread.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> duckdb::Result<T> + Send + 'static,
    {
        let conn = self.clone_connection()?;
        tokio::task::spawn_blocking(move || f(&conn))
            .await
            .map_err(|e| self.error(e))?
            .map_err(|e| self.error(e))
    }

    /// Columns of a table as `(name, type)`, empty if there is no such table.
    fn table_columns(
        conn: &Connection,
        table: &TableName,
    ) -> duckdb::Result<Vec<(String, String)>> {
        let mut stmt = conn.prepare(
            "SELECT column_name, data_type FROM information_schema.columns
             WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        )?;
        let rows = stmt.query_map(
            params![table.schema().unwrap_or("main"), table.name()],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?;
        rows.collect()
    }
}

/// The staging table of a part whose rows are deduplicated.
const DEDUP_STAGE: &str = "__sluice_dedup";

/// Moves a deduplicated part's rows from the staging table into the table; the rows it
/// added.
fn move_deduplicated(
    conn: &Connection,
    dedup: &crate::dedup::Dedup,
    table: &TableName,
    columns: &[Column],
) -> duckdb::Result<u64> {
    let mut added = 0;
    for sql in crate::dedup::move_sql(
        dedup,
        &table.quoted(),
        DEDUP_STAGE,
        columns,
        Some("rowid"),
        quote_ident,
    ) {
        added = conn.execute(&sql, [])?;
    }
    Ok(added as u64)
}

/// Writes a part's rejected rows to the quarantine table (made if missing), after deleting
/// those it held for the file when they are being replayed.
fn write_rejected(
    conn: &Connection,
    quarantine: &TableName,
    path: &str,
    clear: bool,
    batch: Option<RecordBatch>,
) -> duckdb::Result<()> {
    let columns = crate::quarantine::columns();
    let mut ddl = String::new();
    if let Some(schema) = quarantine.schema() {
        ddl.push_str(&format!(
            "CREATE SCHEMA IF NOT EXISTS {};\n",
            quote_ident(schema)
        ));
    }
    ddl.push_str(&crate::sql::create_table_sql(
        quarantine,
        &columns,
        duckdb_type,
    ));
    conn.execute_batch(&ddl)?;
    if clear {
        conn.execute(
            &format!(
                "DELETE FROM {} WHERE {} = ?",
                quarantine.quoted(),
                quote_ident(crate::quarantine::column::FILE)
            ),
            params![path],
        )?;
    }
    if let Some(batch) = batch {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let mut a = conn.appender_with_columns_to_db(
            quarantine.name(),
            quarantine.schema().unwrap_or("main"),
            &names,
        )?;
        a.append_record_batch(batch)?;
        a.flush()?;
        sluice_core::fault::hit("mid-quarantine");
    }
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

#[async_trait]
impl Sink for DuckDbSink {
    fn describe(&self) -> String {
        format!("duckdb:{}", self.path.display())
    }

    async fn check(&self) -> Result<()> {
        self.with_conn(|c| c.execute_batch("SELECT 1")).await
    }

    async fn ensure_table(&self, table: &TableName, columns: &[Column]) -> Result<()> {
        let t = table.clone();
        let cols = columns.to_vec();
        let existing = self.with_conn(move |c| Self::table_columns(c, &t)).await?;
        if existing.is_empty() {
            let mut sql = String::new();
            if let Some(schema) = table.schema() {
                sql.push_str(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {};\n",
                    quote_ident(schema)
                ));
            }
            sql.push_str(&crate::sql::create_table_sql(table, &cols, duckdb_type));
            return self.with_conn(move |c| c.execute_batch(&sql)).await;
        }
        crate::sql::check_columns(table, &existing, columns, duckdb_type)
    }

    async fn alter_table(
        &self,
        table: &TableName,
        change: &sluice_core::schema::TableChange,
    ) -> Result<()> {
        if change.is_empty() {
            return Ok(());
        }
        let (table, change) = (table.clone(), change.clone());
        self.with_conn(move |c| {
            let existing: Vec<String> = Self::table_columns(c, &table)?
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            // A date becomes the instant of its midnight in UTC.
            let sql = crate::sql::alter_table_sql(
                &table,
                &existing,
                &change,
                duckdb_type,
                |c, from, to| {
                    (from == WarehouseType::Date && to == WarehouseType::Timestamp).then(|| {
                        format!("CAST(CAST({c} AS TIMESTAMP) AS TIMESTAMP WITH TIME ZONE)")
                    })
                },
            );
            c.execute_batch("BEGIN TRANSACTION")?;
            match c.execute_batch(&sql) {
                Ok(()) => c.execute_batch("COMMIT"),
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
        .await
    }

    async fn load_parts(
        &self,
        table: &TableName,
        columns: &[Column],
        load: Load,
    ) -> Result<LoadReceipt> {
        let conn = self.clone_connection()?;
        // The batches' columns by name: a table whose columns were added to since it was
        // created holds them in another order.
        let names = columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(PIPELINE_DEPTH);
        let table = table.clone();
        let load_id = load.load_id.clone();
        let (marker_path, marker_version) = (load.marker_path(), load.marker_version());
        let mode = load.mode;
        let quarantine = crate::quarantine::table_of(&table);
        let dedup = load.dedup.clone();
        let all_columns = columns.to_vec();
        let inbox = feed::Inbox::new(rx);
        let threads = self.threads;
        let writer = tokio::task::spawn_blocking(move || -> duckdb::Result<Option<Vec<u64>>> {
            conn.execute_batch("BEGIN TRANSACTION")?;
            let result = (|| {
                if mode == LoadMode::Replace {
                    conn.execute_batch(&format!("DELETE FROM {}", table.quoted()))?;
                }
                let mut parts: Vec<u64> = Vec::new();
                // A channel closed without `Done` means the load was dropped part way (its
                // task cancelled): roll back rather than commit a partial file.
                loop {
                    match inbox.next() {
                        Some(Msg::Part { path, replace_rows }) => {
                            if replace_rows {
                                conn.execute(
                                    &format!(
                                        "DELETE FROM {} WHERE {} = ?",
                                        table.quoted(),
                                        quote_ident(lineage::FILE)
                                    ),
                                    params![path],
                                )?;
                            }
                            let target = if dedup.is_some() {
                                // Into a staging table, moved into the table at its end.
                                conn.execute_batch(&format!(
                                    "CREATE OR REPLACE TEMP TABLE {DEDUP_STAGE} AS SELECT * FROM {} LIMIT 0",
                                    table.quoted()
                                ))?;
                                quote_ident(DEDUP_STAGE)
                            } else {
                                table.quoted()
                            };
                            // The part's first message: a batch starts its feed; anything
                            // else ends a part without rows.
                            let mut rows = match inbox.next() {
                                Some(Msg::Batch(first)) => {
                                    // Deduplication keeps the first or last row by position.
                                    let threads = if dedup.is_some() { 1 } else { threads };
                                    conn.execute_batch(&format!(
                                        "SET preserve_insertion_order = {}",
                                        threads == 1
                                    ))?;
                                    let feed = feed::Registration::new(feed::Feed::new(
                                        &path,
                                        first,
                                        threads,
                                        inbox.clone(),
                                    ));
                                    let sql = format!(
                                        "INSERT INTO {target} ({names}) SELECT * FROM {}(?)",
                                        feed::FUNCTION
                                    );
                                    conn.execute(&sql, params![feed.token()])
                                        .map(|n| n as u64)?
                                }
                                Some(other) => {
                                    inbox.hold(other);
                                    0
                                }
                                None => return Ok(None),
                            };
                            if let Some(dedup) = dedup.as_ref() {
                                rows = move_deduplicated(&conn, dedup, &table, &all_columns)?;
                            }
                            parts.push(rows);
                        }
                        // Batches follow their part's start, taken by its feed.
                        Some(Msg::Batch(_)) => {}
                        Some(Msg::Rejected { path, clear, batch }) => {
                            write_rejected(&conn, &quarantine, &path, clear, batch)?;
                        }
                        Some(Msg::Done) => break,
                        Some(Msg::Abort) | None => return Ok(None),
                    }
                }
                conn.execute(
                    "INSERT INTO _sluice_loads VALUES (?, ?, ?, ?, ?, ?)",
                    params![
                        load_id,
                        table.to_string(),
                        marker_path,
                        marker_version,
                        parts.iter().sum::<u64>() as i64,
                        now()
                    ],
                )?;
                Ok(Some(parts))
            })();
            match result {
                Ok(Some(parts)) => {
                    conn.execute_batch("COMMIT")?;
                    Ok(Some(parts))
                }
                other => {
                    conn.execute_batch("ROLLBACK")?;
                    other
                }
            }
        });

        let mut source_error = None;
        let load_id_of_parts = load.load_id.clone();
        'parts: for mut part in load.parts {
            let start = Msg::Part {
                path: part.file_path.clone(),
                replace_rows: part.replace_rows,
            };
            if tx.send(start).await.is_err() {
                break;
            }
            while let Some(item) = part.batches.next().await {
                match item {
                    Ok(batch) => {
                        if tx.send(Msg::Batch(batch)).await.is_err() {
                            break 'parts; // the writer failed; its error is reported below
                        }
                    }
                    Err(e) => {
                        source_error = Some(e);
                        break 'parts;
                    }
                }
            }
            let batch = part
                .rejects
                .as_ref()
                .and_then(|r| r.batch(&part.file_path, &load_id_of_parts));
            if (batch.is_some() || part.clear_rejected)
                && tx
                    .send(Msg::Rejected {
                        path: part.file_path.clone(),
                        clear: part.clear_rejected,
                        batch,
                    })
                    .await
                    .is_err()
            {
                break;
            }
        }
        let _ = tx
            .send(if source_error.is_some() {
                Msg::Abort
            } else {
                Msg::Done
            })
            .await;
        drop(tx);
        let written = writer.await.map_err(|e| self.error(e))?;
        if let Some(e) = source_error {
            return Err(Error::Source(e));
        }
        match written.map_err(|e| self.error(e))? {
            Some(parts) => Ok(LoadReceipt {
                load_id: load.load_id,
                rows: parts.iter().sum(),
                parts,
            }),
            None => Err(self.error("the load was aborted")),
        }
    }

    async fn table_loads(&self, table: &TableName) -> Result<Option<Vec<TableLoad>>> {
        let t = table.clone();
        self.with_conn(move |c| {
            if Self::table_columns(c, &t)?.is_empty() {
                return Ok(None);
            }
            let mut stmt = c.prepare(
                "SELECT load_id, file_path, file_version, rows FROM _sluice_loads WHERE table_name = ? ORDER BY loaded_at",
            )?;
            let rows = stmt.query_map(params![t.to_string()], |r| {
                Ok(TableLoad {
                    load_id: r.get(0)?,
                    file_paths: r.get::<_, String>(1)?.split('\n').map(str::to_string).collect(),
                    file_version: r.get(2)?,
                    rows: r.get::<_, i64>(3)? as u64,
                })
            })?;
            rows.collect::<duckdb::Result<Vec<_>>>().map(Some)
        })
        .await
    }

    async fn delete_file_rows(&self, table: &TableName, file_path: &str) -> Result<u64> {
        let sql = format!(
            "DELETE FROM {} WHERE {} = ?",
            table.quoted(),
            quote_ident(lineage::FILE)
        );
        let path = file_path.to_string();
        self.with_conn(move |c| c.execute(&sql, params![path]).map(|n| n as u64))
            .await
    }

    async fn was_loaded(&self, load_id: &str) -> Result<Option<LoadReceipt>> {
        let id = load_id.to_string();
        self.with_conn(move |c| {
            let mut stmt = c.prepare("SELECT rows FROM _sluice_loads WHERE load_id = ?")?;
            let mut rows = stmt.query(params![id])?;
            match rows.next()? {
                Some(r) => Ok(Some(LoadReceipt::new(
                    id.clone(),
                    r.get::<_, i64>(0)? as u64,
                ))),
                None => Ok(None),
            }
        })
        .await
    }

    /// Drops the table with its markers: the loads it held are gone with it.
    async fn drop_table(&self, table: &TableName) -> Result<()> {
        let sql = format!("DROP TABLE IF EXISTS {}", table.quoted());
        let name = table.to_string();
        self.with_conn(move |c| {
            c.execute_batch("BEGIN TRANSACTION")?;
            let done = c.execute_batch(&sql).and_then(|()| {
                c.execute(
                    "DELETE FROM _sluice_loads WHERE table_name = ?",
                    params![name],
                )
            });
            match done {
                Ok(_) => c.execute_batch("COMMIT"),
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
        .await
    }
}

#[async_trait]
impl Inspect for DuckDbSink {
    async fn table_exists(&self, table: &TableName) -> Result<bool> {
        let t = table.clone();
        self.with_conn(move |c| Self::table_columns(c, &t).map(|c| !c.is_empty()))
            .await
    }

    async fn preview(&self, table: &TableName, limit: usize) -> Result<Vec<RecordBatch>> {
        let sql = format!("SELECT * FROM {} LIMIT {limit}", table.quoted());
        self.with_conn(move |c| Ok(c.prepare(&sql)?.query_arrow([])?.collect()))
            .await
    }

    async fn count_rows(&self, table: &TableName) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", table.quoted());
        self.with_conn(move |c| {
            c.query_row(&sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }
}

//! What the SQLite and PostgreSQL catalogs share: their queries and how rows become
//! records, written once in [`sql_catalog!`] and expanded for each backend. Queries are
//! written with `?` placeholders and numbered (`$1`, `$2`, …) for PostgreSQL; they keep to
//! SQL both backends speak (`RETURNING`, `ON CONFLICT`, partial unique indexes,
//! `CAST(? AS TEXT)` where PostgreSQL must know a parameter's type).

use crate::Error;

pub(super) fn db(e: sqlx::Error) -> Error {
    Error::Catalog(e.to_string())
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("catalog records serialize")
}

pub(super) const JOB_COLUMNS: &str = "j.id, j.uid, j.name, c.name AS connection, j.file_path_prefix, j.file_pattern,
    j.file_format_options, j.load_latest_only, j.schema, j.schema_fingerprint, j.destination, j.table_name,
    j.load_type, j.schedule, j.timezone, j.paused, j.alerts, j.max_file_size, j.created_at";

pub(super) const RUN_COLUMNS: &str =
    "r.id, j.name AS job, r.status, r.started_at, r.finished_at, r.files_seen,
    r.files_already_loaded, r.error, r.queued_at, r.scheduled_for";

/// `?` placeholders numbered for PostgreSQL: `a = ? AND b = ?` → `a = $1 AND b = $2`.
/// (The catalog's statements hold no `?` inside string literals.)
pub(super) fn numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The catalog's queries for one backend: `sql_catalog!(Type, RowType, numbered)` implements
/// [`super::Catalog`] for `Type`, which holds a `pool` of that backend.
macro_rules! sql_catalog {
    ($name:ident, $row:ty, $numbered:expr) => {
        impl $name {
                    /// The statement in this backend's placeholder style.
                    fn sql(text: &str) -> sqlx::AssertSqlSafe<String> {
                        sqlx::AssertSqlSafe(if $numbered {
                            super::sql::numbered(text)
                        } else {
                            text.to_string()
                        })
                    }

                    fn json<T: serde::de::DeserializeOwned>(row: &$row, col: &str) -> Result<T> {
                        let text: String = row.try_get(col).map_err(db)?;
                        serde_json::from_str(&text)
                            .map_err(|e| Error::Catalog(format!("column {col} holds invalid JSON: {e}")))
                    }

                    fn parsed<T: FromStr>(row: &$row, col: &str) -> Result<T>
                    where
                        T::Err: std::fmt::Display,
                    {
                        let text: String = row.try_get(col).map_err(db)?;
                        text.parse()
                            .map_err(|e| Error::Catalog(format!("column {col} holds '{text}': {e}")))
                    }

            fn connection_from(row: &$row) -> Result<ConnectionRecord> {
                Ok(ConnectionRecord {
                    id: row.try_get("id").map_err(db)?,
                    name: row.try_get("name").map_err(db)?,
                    config: Self::json(row, "config")?,
                    created_at: row.try_get("created_at").map_err(db)?,
                    updated_at: row.try_get("updated_at").map_err(db)?,
                })
            }

            fn job_from(row: &$row) -> Result<Job> {
                Ok(Job {
                    id: row.try_get("id").map_err(db)?,
                    uid: row.try_get("uid").map_err(db)?,
                    name: row.try_get("name").map_err(db)?,
                    connection: row.try_get("connection").map_err(db)?,
                    file_path_prefix: row.try_get("file_path_prefix").map_err(db)?,
                    file_pattern: row.try_get("file_pattern").map_err(db)?,
                    file_format_options: Self::json(row, "file_format_options")?,
                    load_latest_only: row.try_get("load_latest_only").map_err(db)?,
                    schema: Self::json(row, "schema")?,
                    schema_fingerprint: row.try_get("schema_fingerprint").map_err(db)?,
                    destination: Self::json(row, "destination")?,
                    table_name: Self::parsed(row, "table_name").map_err(|e| Error::Catalog(e.to_string()))?,
                    load_type: Self::parsed(row, "load_type")?,
                    settings: JobSettings {
                        schedule: Self::parsed(row, "schedule")?,
                        timezone: Self::parsed(row, "timezone")?,
                        paused: row.try_get("paused").map_err(db)?,
                        alerts: Self::json(row, "alerts")?,
                    },
                    max_file_size: row.try_get::<i64, _>("max_file_size").map_err(db)? as u64,
                    created_at: row.try_get("created_at").map_err(db)?,
                })
            }

            async fn run_files(&self, run_id: i64) -> Result<Vec<RunFile>> {
                let rows = sqlx::query(
                    Self::sql("SELECT file_path, file_version, file_size_bytes, outcome, message, rows_loaded
                     FROM run_files WHERE run_id = ? ORDER BY id"),
                )
                .bind(run_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        let outcome: String = r.try_get("outcome").map_err(db)?;
                        Ok(RunFile {
                            file_path: r.try_get("file_path").map_err(db)?,
                            file_version: r.try_get("file_version").map_err(db)?,
                            file_size_bytes: r.try_get::<i64, _>("file_size_bytes").map_err(db)? as u64,
                            outcome: FileOutcome::parse(&outcome).ok_or_else(|| {
                                Error::Catalog(format!("unknown file outcome '{outcome}'"))
                            })?,
                            message: r.try_get("message").map_err(db)?,
                            rows_loaded: r.try_get::<i64, _>("rows_loaded").map_err(db)? as u64,
                        })
                    })
                    .collect()
            }

            /// Describes the live run holding the job's lease, if any; a dead holder is marked
            /// interrupted and `None` returned, so the caller can take the lease.
            async fn live_holder(&self, job_id: i64) -> Result<Option<String>> {
                let row = sqlx::query(
                    Self::sql("SELECT r.id, r.runner, r.heartbeat_at, r.started_at, j.name FROM runs r JOIN jobs j ON j.id = r.job_id
                     WHERE r.job_id = ? AND r.status = 'running'"),
                )
                .bind(job_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                let Some(row) = row else { return Ok(None) };
                let id: i64 = row.try_get("id").map_err(db)?;
                let holder: Option<String> = row.try_get("runner").map_err(db)?;
                let heartbeat: Option<DateTime<Utc>> = row.try_get("heartbeat_at").map_err(db)?;
                if crate::lease::is_alive(holder.as_deref(), heartbeat, Utc::now()) {
                    let name: String = row.try_get("name").map_err(db)?;
                    let started: DateTime<Utc> = row.try_get("started_at").map_err(db)?;
                    return Ok(Some(format!(
                        "job '{name}' is already running (run {id}, started {})",
                        started.format("%Y-%m-%d %H:%M:%S UTC")
                    )));
                }
                sqlx::query(
                    Self::sql("UPDATE runs SET status = 'failed', finished_at = ?,
                        error = 'interrupted: the process running it stopped; its files are settled by the next run'
                     WHERE id = ? AND status = 'running'"),
                )
                .bind(Utc::now())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(None)
            }

            async fn incident(&self, id: i64) -> Result<Incident> {
                let r = sqlx::query(
                    Self::sql("SELECT i.*, j.name AS job FROM alert_incidents i JOIN jobs j ON j.id = i.job_id WHERE i.id = ?"),
                )
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                let kind: String = r.try_get("kind").map_err(db)?;
                Ok(Incident {
                    id,
                    job: r.try_get("job").map_err(db)?,
                    kind: AlertKind::parse(&kind)
                        .ok_or_else(|| Error::Catalog(format!("unknown alert kind '{kind}'")))?,
                    key: r.try_get("key").map_err(db)?,
                    summary: r.try_get("summary").map_err(db)?,
                    opened_at: r.try_get("opened_at").map_err(db)?,
                    closed_at: r.try_get("closed_at").map_err(db)?,
                    notified_at: r.try_get("notified_at").map_err(db)?,
                    notify_error: r.try_get("notify_error").map_err(db)?,
                })
            }

            async fn run_from(&self, row: &$row) -> Result<Run> {
                let id: i64 = row.try_get("id").map_err(db)?;
                let files = self.run_files(id).await?;
                let (files_loaded, files_skipped, failed) = tally(&files);
                let loaded = files
                    .iter()
                    .filter(|f| matches!(f.outcome, FileOutcome::Loaded | FileOutcome::Recovered));
                let status: String = row.try_get("status").map_err(db)?;
                let already = row.try_get::<i64, _>("files_already_loaded").map_err(db)? as u64;
                Ok(Run {
                    id,
                    job: row.try_get("job").map_err(db)?,
                    status: RunStatus::parse(&status),
                    started_at: row.try_get("started_at").map_err(db)?,
                    finished_at: row.try_get("finished_at").map_err(db)?,
                    files_seen: row.try_get::<i64, _>("files_seen").map_err(db)? as u64,
                    files_loaded,
                    files_skipped: files_skipped + already,
                    files_already_loaded: already,
                    files_failed: failed,
                    rows_loaded: loaded.clone().map(|f| f.rows_loaded).sum(),
                    bytes_loaded: loaded.map(|f| f.file_size_bytes).sum(),
                    error: row.try_get("error").map_err(db)?,
                    queued_at: row.try_get("queued_at").map_err(db)?,
                    scheduled_for: row.try_get("scheduled_for").map_err(db)?,
                    files,
                    log: Vec::new(),
                })
            }
        }

        #[async_trait]
        impl Catalog for $name {
            async fn add_connection(
                &self,
                name: &str,
                config: &ConnectionConfig,
            ) -> Result<ConnectionRecord> {
                let now = Utc::now();
                let row = sqlx::query(
                    Self::sql("INSERT INTO connections (name, provider, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING *"),
                )
                .bind(name)
                .bind(config.provider())
                .bind(to_json(config))
                .bind(now)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Error::Conflict(format!("a connection named '{name}' already exists; choose another name"))
                    } else {
                        db(e)
                    }
                })?;
                Self::connection_from(&row)
            }

            async fn update_secrets(
                &self,
                configs: &[(i64, ConnectionConfig)],
                destinations: &[(i64, Destination)],
            ) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                for (id, destination) in destinations {
                    sqlx::query(Self::sql("UPDATE jobs SET destination = ? WHERE id = ?"))
                        .bind(to_json(destination))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                for (id, config) in configs {
                    sqlx::query(
                        Self::sql("UPDATE connections SET provider = ?, config = ?, updated_at = ? WHERE id = ?"),
                    )
                    .bind(config.provider())
                    .bind(to_json(config))
                    .bind(Utc::now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn list_connections(&self) -> Result<Vec<ConnectionRecord>> {
                let rows = sqlx::query(Self::sql("SELECT * FROM connections ORDER BY name"))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::connection_from).collect()
            }

            async fn connection(&self, name: &str) -> Result<ConnectionRecord> {
                let row = sqlx::query(Self::sql("SELECT * FROM connections WHERE name = ?"))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| {
                        Error::NotFound(format!(
                            "no connection named '{name}'; see `sluice connections list`"
                        ))
                    })?;
                Self::connection_from(&row)
            }

            async fn delete_connection(&self, name: &str) -> Result<()> {
                let conn = self.connection(name).await?;
                let users: Vec<String> =
                    sqlx::query_scalar(Self::sql("SELECT name FROM jobs WHERE connection_id = ? ORDER BY name"))
                        .bind(conn.id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?;
                if !users.is_empty() {
                    return Err(Error::Conflict(format!(
                        "connection '{name}' is used by job(s) {}; delete them first",
                        users.join(", ")
                    )));
                }
                sqlx::query(Self::sql("DELETE FROM connections WHERE id = ?"))
                    .bind(conn.id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn create_job(&self, job: &NewJob) -> Result<Job> {
                sqlx::query(
                    Self::sql("INSERT INTO jobs (uid, name, connection_id, file_path_prefix, file_pattern, file_format,
                        file_format_options, load_latest_only, schema, schema_fingerprint, destination, table_name,
                        load_type, schedule, timezone, paused, alerts, max_file_size, created_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                )
                .bind(&job.uid)
                .bind(&job.name)
                .bind(job.connection_id)
                .bind(&job.file_path_prefix)
                .bind(&job.file_pattern)
                .bind(job.file_format_options.format().as_str())
                .bind(to_json(&job.file_format_options))
                .bind(job.load_latest_only)
                .bind(to_json(&job.schema))
                .bind(&job.schema_fingerprint)
                .bind(to_json(&job.destination))
                .bind(job.table_name.to_string())
                .bind(job.load_type.to_string())
                .bind(job.settings.schedule.to_string())
                .bind(job.settings.timezone.to_string())
                .bind(job.settings.paused)
                .bind(to_json(&job.settings.alerts))
                .bind(job.max_file_size as i64)
                .bind(Utc::now())
                .execute(&self.pool)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Error::Conflict(format!("a job named '{}' already exists; choose another name", job.name))
                    } else {
                        db(e)
                    }
                })?;
                self.job(&job.name).await
            }

            async fn list_jobs(&self) -> Result<Vec<Job>> {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM jobs j JOIN connections c ON c.id = j.connection_id ORDER BY j.name"
                );
                let rows = sqlx::query(Self::sql(&sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::job_from).collect()
            }

            async fn job(&self, name: &str) -> Result<Job> {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM jobs j JOIN connections c ON c.id = j.connection_id WHERE j.name = ?"
                );
                let row = sqlx::query(Self::sql(&sql))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| {
                        Error::NotFound(format!("no job named '{name}'; see `sluice jobs list`"))
                    })?;
                Self::job_from(&row)
            }

            async fn delete_job(&self, name: &str) -> Result<()> {
                let job = self.job(name).await?;
                sqlx::query(Self::sql("DELETE FROM jobs WHERE id = ?"))
                    .bind(job.id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn processed_files(&self, job_id: i64) -> Result<Vec<ProcessedFile>> {
                let rows = sqlx::query(
                    Self::sql("SELECT * FROM processed_files WHERE job_id = ? ORDER BY file_last_modified DESC, file_path DESC"),
                )
                .bind(job_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(ProcessedFile {
                            file_path: r.try_get("file_path").map_err(db)?,
                            file_version: r.try_get("file_version").map_err(db)?,
                            file_size_bytes: r.try_get::<i64, _>("file_size_bytes").map_err(db)? as u64,
                            file_last_modified: r
                                .try_get::<DateTime<Utc>, _>("file_last_modified")
                                .map_err(db)?,
                            etag: r.try_get("etag").map_err(db)?,
                            status: r.try_get("status").map_err(db)?,
                            load_id: r.try_get("load_id").map_err(db)?,
                            processed_at: r.try_get("processed_at").map_err(db)?,
                            rows_loaded: r.try_get::<i64, _>("rows_loaded").map_err(db)? as u64,
                            run_id: r.try_get("run_id").map_err(db)?,
                        })
                    })
                    .collect()
            }

            async fn claim_file(
                &self,
                job_id: i64,
                run_id: i64,
                file: &FileEntry,
                load_id: &str,
            ) -> Result<bool> {
                let result = sqlx::query(
                    Self::sql("INSERT INTO processed_files (job_id, file_path, file_version, file_size_bytes, file_last_modified,
                        etag, status, load_id, processed_at, run_id)
                     VALUES (?, ?, ?, ?, ?, ?, 'loading', ?, ?, ?)
                     ON CONFLICT (job_id, file_path, file_version) DO NOTHING"),
                )
                .bind(job_id)
                .bind(&file.path)
                .bind(file.version_key())
                .bind(file.size as i64)
                .bind(file.last_modified)
                .bind(&file.e_tag)
                .bind(load_id)
                .bind(Utc::now())
                .bind(run_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(result.rows_affected() == 1)
            }

            async fn mark_loaded(
                &self,
                job_id: i64,
                file_path: &str,
                file_version: &str,
                rows: u64,
                run_id: i64,
            ) -> Result<()> {
                sqlx::query(
                    Self::sql("UPDATE processed_files SET status = 'loaded', rows_loaded = ?, processed_at = ?, run_id = ?
                     WHERE job_id = ? AND file_path = ? AND file_version = ?"),
                )
                .bind(rows as i64)
                .bind(Utc::now())
                .bind(run_id)
                .bind(job_id)
                .bind(file_path)
                .bind(file_version)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn release_claim(&self, job_id: i64, file_path: &str, file_version: &str) -> Result<()> {
                sqlx::query(
                    Self::sql("DELETE FROM processed_files WHERE job_id = ? AND file_path = ? AND file_version = ? AND status = 'loading'"),
                )
                .bind(job_id)
                .bind(file_path)
                .bind(file_version)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn start_run(
                &self,
                job_id: i64,
                runner: &str,
                scheduled_for: Option<DateTime<Utc>>,
                queue: bool,
            ) -> Result<Run> {
                for _ in 0..2 {
                    let now = Utc::now();
                    let inserted: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
                        Self::sql("INSERT INTO runs (job_id, status, started_at, queued_at, runner, heartbeat_at, scheduled_for)
                         VALUES (?, 'running', ?, ?, ?, ?, ?) RETURNING id"),
                    )
                    .bind(job_id)
                    .bind(now)
                    .bind(now)
                    .bind(runner)
                    .bind(now)
                    .bind(scheduled_for)
                    .fetch_one(&self.pool)
                    .await;
                    match inserted {
                        Ok(id) => return self.run(id).await,
                        Err(e) if is_unique_violation(&e) => {}
                        Err(e) => return Err(db(e)),
                    }
                    let Some(busy) = self.live_holder(job_id).await? else {
                        continue;
                    };
                    if !queue {
                        return Err(Error::Conflict(format!(
                            "{busy}; wait for it to finish, or queue behind it with `sluice run --wait`"
                        )));
                    }
                    let queued: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
                        Self::sql("INSERT INTO runs (job_id, status, started_at, queued_at, scheduled_for)
                         VALUES (?, 'queued', ?, ?, ?) RETURNING id"),
                    )
                    .bind(job_id)
                    .bind(now)
                    .bind(now)
                    .bind(scheduled_for)
                    .fetch_one(&self.pool)
                    .await;
                    let id =
                        match queued {
                            Ok(id) => id,
                            // One run already waits; it will pick up whatever this one would have.
                            Err(e) if is_unique_violation(&e) => sqlx::query_scalar(
                                Self::sql("SELECT id FROM runs WHERE job_id = ? AND status = 'queued'"),
                            )
                            .bind(job_id)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(db)?
                            .ok_or_else(|| Error::Conflict("the job's queue changed; try again".into()))?,
                            Err(e) => return Err(db(e)),
                        };
                    return self.run(id).await;
                }
                Err(Error::Conflict(
                    "another run of this job keeps starting; try again".into(),
                ))
            }

            async fn promote_queued(&self, run_id: i64, runner: &str) -> Result<Promotion> {
                let job_id: i64 = sqlx::query_scalar(Self::sql("SELECT job_id FROM runs WHERE id = ?"))
                    .bind(run_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| Error::NotFound(format!("no run {run_id}")))?;
                for _ in 0..2 {
                    let now = Utc::now();
                    let updated = sqlx::query(
                        Self::sql("UPDATE runs SET status = 'running', started_at = ?, runner = ?, heartbeat_at = ?
                         WHERE id = ? AND status = 'queued'"),
                    )
                    .bind(now)
                    .bind(runner)
                    .bind(now)
                    .bind(run_id)
                    .execute(&self.pool)
                    .await;
                    match updated {
                        Ok(r) if r.rows_affected() == 1 => return Ok(Promotion::Started),
                        Ok(_) => return Ok(Promotion::Gone),
                        Err(e) if is_unique_violation(&e) => {}
                        Err(e) => return Err(db(e)),
                    }
                    if let Some(busy) = self.live_holder(job_id).await? {
                        return Ok(Promotion::Waiting(busy));
                    }
                }
                Ok(Promotion::Waiting("another run keeps starting".into()))
            }

            async fn queued_runs(&self) -> Result<Vec<(String, i64)>> {
                let rows = sqlx::query(
                    Self::sql("SELECT j.name, r.id FROM runs r JOIN jobs j ON j.id = r.job_id WHERE r.status = 'queued' ORDER BY r.id"),
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
                    .collect()
            }

            async fn update_job_settings(&self, job_id: i64, settings: &JobSettings) -> Result<()> {
                sqlx::query(
                    Self::sql("UPDATE jobs SET schedule = ?, timezone = ?, paused = ?, alerts = ? WHERE id = ?"),
                )
                .bind(settings.schedule.to_string())
                .bind(settings.timezone.to_string())
                .bind(settings.paused)
                .bind(to_json(&settings.alerts))
                .bind(job_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn log(&self, run_id: i64, level: &str, message: &str) -> Result<()> {
                sqlx::query(Self::sql("INSERT INTO run_log (run_id, at, level, message) VALUES (?, ?, ?, ?)"))
                    .bind(run_id)
                    .bind(Utc::now())
                    .bind(level)
                    .bind(message)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn run_log(&self, run_id: i64) -> Result<Vec<LogLine>> {
                let rows =
                    sqlx::query(Self::sql("SELECT at, level, message FROM run_log WHERE run_id = ? ORDER BY id"))
                        .bind(run_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(LogLine {
                            at: r.try_get("at").map_err(db)?,
                            level: r.try_get("level").map_err(db)?,
                            message: r.try_get("message").map_err(db)?,
                        })
                    })
                    .collect()
            }

            async fn open_incident(
                &self,
                job_id: i64,
                kind: AlertKind,
                key: &str,
                summary: &str,
                at: DateTime<Utc>,
            ) -> Result<Option<i64>> {
                let opened = sqlx::query_scalar(
                    Self::sql("INSERT INTO alert_incidents (job_id, kind, key, summary, opened_at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT DO NOTHING RETURNING id"),
                )
                .bind(job_id)
                .bind(kind.as_str())
                .bind(key)
                .bind(summary)
                .bind(at)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(opened)
            }

            async fn close_incidents(
                &self,
                job_id: i64,
                kind: AlertKind,
                key: Option<&str>,
                at: DateTime<Utc>,
            ) -> Result<Vec<Incident>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    Self::sql("UPDATE alert_incidents SET closed_at = ?
                     WHERE job_id = ? AND kind = ? AND closed_at IS NULL AND (CAST(? AS TEXT) IS NULL OR key = ?)
                     RETURNING id"),
                )
                .bind(at)
                .bind(job_id)
                .bind(kind.as_str())
                .bind(key)
                .bind(key)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut closed = Vec::with_capacity(ids.len());
                for id in ids {
                    closed.push(self.incident(id).await?);
                }
                Ok(closed)
            }

            async fn mark_notified(
                &self,
                incident_id: i64,
                at: DateTime<Utc>,
                error: Option<&str>,
            ) -> Result<()> {
                sqlx::query(
                    Self::sql("UPDATE alert_incidents SET notified_at = CASE WHEN CAST(? AS TEXT) IS NULL THEN ? ELSE notified_at END,
                        notify_error = ? WHERE id = ?"),
                )
                    .bind(error)
                    .bind(at)
                    .bind(error)
                    .bind(incident_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn incidents(&self, job_id: i64, limit: u32) -> Result<Vec<Incident>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    Self::sql("SELECT id FROM alert_incidents WHERE job_id = ? ORDER BY id DESC LIMIT ?"),
                )
                .bind(job_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.push(self.incident(id).await?);
                }
                Ok(out)
            }

            async fn last_scheduled(&self, job_id: i64) -> Result<Option<DateTime<Utc>>> {
                let at: Option<DateTime<Utc>> =
                    sqlx::query_scalar(Self::sql("SELECT max(scheduled_for) FROM runs WHERE job_id = ?"))
                        .bind(job_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(at)
            }

            async fn heartbeat(&self, run_id: i64) -> Result<()> {
                sqlx::query(Self::sql("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'"))
                    .bind(Utc::now())
                    .bind(run_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn record_file(&self, run_id: i64, file: &RunFile) -> Result<()> {
                sqlx::query(
                    Self::sql("INSERT INTO run_files (run_id, file_path, file_version, file_size_bytes, outcome, message, rows_loaded)
                     VALUES (?, ?, ?, ?, ?, ?, ?)"),
                )
                .bind(run_id)
                .bind(&file.file_path)
                .bind(&file.file_version)
                .bind(file.file_size_bytes as i64)
                .bind(file.outcome.as_str())
                .bind(&file.message)
                .bind(file.rows_loaded as i64)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn finish_run(
                &self,
                run_id: i64,
                status: RunStatus,
                files_seen: u64,
                files_already_loaded: u64,
                error: Option<&str>,
            ) -> Result<Run> {
                sqlx::query(
                    Self::sql("UPDATE runs SET status = ?, finished_at = ?, files_seen = ?, files_already_loaded = ?, error = ? WHERE id = ?"),
                )
                .bind(status.as_str())
                .bind(Utc::now())
                .bind(files_seen as i64)
                .bind(files_already_loaded as i64)
                .bind(error)
                .bind(run_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                self.run(run_id).await
            }

            async fn runs(&self, job_id: i64, limit: u32) -> Result<Vec<Run>> {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM runs r JOIN jobs j ON j.id = r.job_id WHERE r.job_id = ? ORDER BY r.id DESC LIMIT ?"
                );
                let rows = sqlx::query(Self::sql(&sql))
                    .bind(job_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    out.push(self.run_from(r).await?);
                }
                Ok(out)
            }

            async fn run(&self, run_id: i64) -> Result<Run> {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM runs r JOIN jobs j ON j.id = r.job_id WHERE r.id = ?"
                );
                let row = sqlx::query(Self::sql(&sql))
                    .bind(run_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| Error::NotFound(format!("no run {run_id}; see `sluice runs JOB`")))?;
                let mut run = self.run_from(&row).await?;
                run.log = self.run_log(run_id).await?;
                Ok(run)
            }
        }
    };
}

pub(super) use sql_catalog;

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            super::numbered(
                "UPDATE t SET a = ? WHERE b = ? AND (CAST(? AS TEXT) IS NULL OR c = ?)"
            ),
            "UPDATE t SET a = $1 WHERE b = $2 AND (CAST($3 AS TEXT) IS NULL OR c = $4)"
        );
    }
}

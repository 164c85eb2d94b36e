//! Runs: the lease that lets one run of a job go at a time, the queue behind it, each
//! file's outcome and the run's log. Lists read the files of all their runs in one query.

macro_rules! runs {
    ($name:ident, $row:ty) => {
        impl $name {
            /// Describes the live run holding the job's lease, if any; a dead holder is marked
            /// interrupted and `None` returned, so the caller can take the lease.
            async fn live_holder(&self, job_id: i64) -> Result<Option<(String, String)>> {
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
                if crate::lease::is_alive(holder.as_deref(), heartbeat, self.now().await?) {
                    let name: String = row.try_get("name").map_err(db)?;
                    let started: DateTime<Utc> = row.try_get("started_at").map_err(db)?;
                    let text = format!(
                        "job '{name}' is already running (run {id}, started {})",
                        started.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                    return Ok(Some((name, text)));
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

            /// Whether the run is still `running`, holding its job's lease.
            async fn holds_lease(&self, run_id: i64) -> Result<bool> {
                let n: i64 = sqlx::query_scalar(
                    Self::sql("SELECT count(*) FROM runs WHERE id = ? AND status = 'running'"),
                )
                .bind(run_id)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                Ok(n == 1)
            }

            /// The files of the runs `scope` selects (a `SELECT id FROM runs …` with one `?`
            /// bound to `arg`, and a limit), by run: one query however many runs.
            async fn run_files_of(
                &self,
                scope: &str,
                arg: i64,
                limit: i64,
            ) -> Result<HashMap<i64, Vec<RunFile>>> {
                let sql = format!(
                    "SELECT run_id, file_path, file_version, file_size_bytes, outcome, message, hint, rows_loaded, rows_rejected, worker
                     FROM run_files WHERE run_id IN ({scope}) ORDER BY run_id, id"
                );
                let rows = sqlx::query(Self::sql(&sql))
                    .bind(arg)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let mut out: HashMap<i64, Vec<RunFile>> = HashMap::new();
                for r in &rows {
                    let outcome: String = r.try_get("outcome").map_err(db)?;
                    let hint: Option<String> = r.try_get("hint").map_err(db)?;
                    let file = RunFile {
                        file_path: r.try_get("file_path").map_err(db)?,
                        file_version: r.try_get("file_version").map_err(db)?,
                        file_size_bytes: r.try_get::<i64, _>("file_size_bytes").map_err(db)? as u64,
                        outcome: FileOutcome::parse(&outcome).ok_or_else(|| {
                            Error::Catalog(format!("unknown file outcome '{outcome}'"))
                        })?,
                        message: r.try_get("message").map_err(db)?,
                        hint: hint.and_then(|h| serde_json::from_str(&h).ok()),
                        rows_loaded: r.try_get::<i64, _>("rows_loaded").map_err(db)? as u64,
                        rows_rejected: r.try_get::<i64, _>("rows_rejected").map_err(db)? as u64,
                        worker: r.try_get("worker").map_err(db)?,
                    };
                    out.entry(r.try_get("run_id").map_err(db)?).or_default().push(file);
                }
                Ok(out)
            }

            fn run_from(row: &$row, files: Vec<RunFile>) -> Result<Run> {
                let (files_loaded, files_skipped, failed) = tally(&files);
                let loaded = files.iter().filter(|f| f.outcome.is_loaded());
                let already = row.try_get::<i64, _>("files_already_loaded").map_err(db)? as u64;
                Ok(Run {
                    id: row.try_get("id").map_err(db)?,
                    job: row.try_get("job").map_err(db)?,
                    status: Self::parsed(row, "status")?,
                    started_at: row.try_get("started_at").map_err(db)?,
                    finished_at: row.try_get("finished_at").map_err(db)?,
                    files_seen: row.try_get::<i64, _>("files_seen").map_err(db)? as u64,
                    files_loaded,
                    files_skipped: files_skipped + already,
                    files_already_loaded: already,
                    files_failed: failed,
                    rows_loaded: loaded.clone().map(|f| f.rows_loaded).sum(),
                    rows_rejected: loaded.clone().map(|f| f.rows_rejected).sum(),
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
        impl RunCatalog for $name {
            async fn start_run(
                &self,
                job_id: i64,
                runner: &str,
                scheduled_for: Option<DateTime<Utc>>,
                queue: bool,
            ) -> Result<Run> {
                for _ in 0..2 {
                    let now = self.now().await?;
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
                        return Err(Error::Busy {
                            job: busy.0,
                            message: format!("{}; wait for it to finish, or queue behind it", busy.1),
                        });
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
                            .ok_or_else(|| Error::Busy {
                                job: job_id.to_string(),
                                message: "the job's queue changed; try again".into(),
                            })?,
                            Err(e) => return Err(db(e)),
                        };
                    return self.run(id).await;
                }
                Err(Error::Busy {
                    job: job_id.to_string(),
                    message: "another run of this job keeps starting; try again".into(),
                })
            }

            async fn promote_queued(&self, run_id: i64, runner: &str) -> Result<Promotion> {
                let job_id: i64 = sqlx::query_scalar(Self::sql("SELECT job_id FROM runs WHERE id = ?"))
                    .bind(run_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| Error::not_found(Kind::Run, run_id.to_string()))?;
                for _ in 0..2 {
                    let now = self.now().await?;
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
                    if let Some((_, busy)) = self.live_holder(job_id).await? {
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

            async fn last_scheduled(&self, job_id: i64) -> Result<Option<DateTime<Utc>>> {
                let at: Option<DateTime<Utc>> =
                    sqlx::query_scalar(Self::sql("SELECT max(scheduled_for) FROM runs WHERE job_id = ?"))
                        .bind(job_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(at)
            }

            async fn heartbeat(&self, run_id: i64) -> Result<bool> {
                let result = sqlx::query(Self::sql("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'"))
                    .bind(self.now().await?)
                    .bind(run_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(result.rows_affected() == 1)
            }

            async fn now(&self) -> Result<DateTime<Utc>> {
                if !Self::NUMBERED {
                    // SQLite is one file on this machine: its clock is this machine's.
                    return Ok(Utc::now());
                }
                sqlx::query_scalar(Self::sql("SELECT now()"))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn record_file(&self, run_id: i64, file: &RunFile) -> Result<()> {
                sqlx::query(
                    Self::sql("INSERT INTO run_files (run_id, file_path, file_version, file_size_bytes, outcome, message, hint, rows_loaded, rows_rejected, worker)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                )
                .bind(run_id)
                .bind(&file.file_path)
                .bind(&file.file_version)
                .bind(file.file_size_bytes as i64)
                .bind(file.outcome.as_str())
                .bind(&file.message)
                .bind(file.hint.as_ref().map(to_json))
                .bind(file.rows_loaded as i64)
                .bind(file.rows_rejected as i64)
                .bind(&file.worker)
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
                let mut files = self
                    .run_files_of(
                        "SELECT id FROM runs WHERE job_id = ? ORDER BY id DESC LIMIT ?",
                        job_id,
                        i64::from(limit),
                    )
                    .await?;
                rows.iter()
                    .map(|r| {
                        let id: i64 = r.try_get("id").map_err(db)?;
                        Self::run_from(r, files.remove(&id).unwrap_or_default())
                    })
                    .collect()
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
                    .ok_or_else(|| Error::not_found(Kind::Run, run_id.to_string()))?;
                let mut files = self
                    .run_files_of("SELECT id FROM runs WHERE id = ? LIMIT ?", run_id, 1)
                    .await?;
                let mut run = Self::run_from(&row, files.remove(&run_id).unwrap_or_default())?;
                run.log = self.run_log(run_id).await?;
                Ok(run)
            }

            async fn run_totals(&self, per_job: u32) -> Result<Vec<RunTotals>> {
                let loaded = "f.outcome IN ('loaded', 'recovered')";
                let sql = format!(
                    "SELECT j.name AS job, r.status, r.started_at, r.finished_at,
                        CAST(COALESCE(SUM(CASE WHEN {loaded} THEN 1 ELSE 0 END), 0) AS BIGINT) AS files_loaded,
                        CAST(COALESCE(SUM(CASE WHEN {loaded} THEN f.rows_loaded ELSE 0 END), 0) AS BIGINT) AS rows_loaded,
                        CAST(COALESCE(SUM(CASE WHEN {loaded} THEN f.file_size_bytes ELSE 0 END), 0) AS BIGINT) AS bytes_loaded
                     FROM runs r JOIN jobs j ON j.id = r.job_id LEFT JOIN run_files f ON f.run_id = r.id
                     WHERE r.id IN (SELECT id FROM (
                         SELECT id, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY id DESC) AS n FROM runs
                     ) recent WHERE n <= ?)
                     GROUP BY r.id, j.name, r.status, r.started_at, r.finished_at
                     ORDER BY r.id"
                );
                let rows = sqlx::query(Self::sql(&sql))
                    .bind(i64::from(per_job))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(RunTotals {
                            job: r.try_get("job").map_err(db)?,
                            status: Self::parsed(r, "status")?,
                            started_at: r.try_get("started_at").map_err(db)?,
                            finished_at: r.try_get("finished_at").map_err(db)?,
                            files_loaded: r.try_get::<i64, _>("files_loaded").map_err(db)? as u64,
                            rows_loaded: r.try_get::<i64, _>("rows_loaded").map_err(db)? as u64,
                            bytes_loaded: r.try_get::<i64, _>("bytes_loaded").map_err(db)? as u64,
                        })
                    })
                    .collect()
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
        }
    };
}

pub(crate) use runs;

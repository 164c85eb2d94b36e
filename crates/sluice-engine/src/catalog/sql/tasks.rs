//! A shared run's files: offered once, in load order, each claimed by one worker at a time
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers polling together never wait on each
//! other; SQLite serializes writers anyway), renewed by its worker's heartbeat, and freed as
//! orphaned when that worker is known dead.

macro_rules! tasks {
    ($name:ident, $row:ty) => {
        impl $name {
            fn task_from(row: &$row, job: String) -> Result<super::Task> {
                let file: sluice_core::storage::FileEntry = Self::json(row, "file")?;
                Ok(super::Task {
                    run_id: row.try_get("run_id").map_err(db)?,
                    position: row.try_get::<i32, _>("position").map_err(db)? as u32,
                    job,
                    orphaned: row.try_get("orphaned").map_err(db)?,
                    take: crate::plan::Take {
                        file: std::sync::Arc::new(file),
                        content: row.try_get("content").map_err(db)?,
                        reload: row.try_get("reload").map_err(db)?,
                        fail: row.try_get("fail").map_err(db)?,
                        generation: row.try_get::<i32, _>("generation").map_err(db)? as u32,
                    },
                })
            }

            /// Updates the file `worker` holds of a run, not done: `set` its columns (one `?`
            /// in `set` is `at`). Returns whether it did.
            async fn update_held(
                &self,
                set: &str,
                at: Option<DateTime<Utc>>,
                run_id: i64,
                position: i32,
                worker: &str,
            ) -> Result<bool> {
                let sql = format!(
                    "UPDATE run_tasks SET {set} WHERE run_id = ? AND position = ? AND worker = ? AND done = FALSE"
                );
                let mut query = sqlx::query(Self::sql(&sql));
                if let Some(at) = at {
                    query = query.bind(at);
                }
                let result = query
                    .bind(run_id)
                    .bind(position)
                    .bind(worker)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(result.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl super::TaskCatalog for $name {
            async fn offer_files(
                &self,
                run_id: i64,
                job_id: i64,
                takes: &[crate::plan::Take],
            ) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                for (position, take) in takes.iter().enumerate() {
                    sqlx::query(Self::sql(
                        "INSERT INTO run_tasks (run_id, position, job_id, file, content, reload, fail, generation)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    ))
                    .bind(run_id)
                    .bind(position as i32)
                    .bind(job_id)
                    .bind(to_json(take.file.as_ref()))
                    .bind(&take.content)
                    .bind(take.reload)
                    .bind(take.fail)
                    .bind(take.generation as i32)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn claim_task(
                &self,
                run_id: Option<i64>,
                worker: &str,
            ) -> Result<Option<super::Task>> {
                let lock = if Self::NUMBERED { "FOR UPDATE OF t SKIP LOCKED" } else { "" };
                let sql = format!(
                    "UPDATE run_tasks SET worker = ?, heartbeat_at = ?
                     WHERE (run_id, position) IN (
                        SELECT t.run_id, t.position FROM run_tasks t JOIN runs r ON r.id = t.run_id
                        WHERE t.done = FALSE AND t.worker IS NULL AND r.status = 'running'
                            AND (CAST(? AS BIGINT) IS NULL OR t.run_id = ?)
                        ORDER BY t.run_id, t.position LIMIT 1 {lock})
                       AND worker IS NULL
                     RETURNING run_id, position, job_id, file, content, reload, fail, generation, orphaned"
                );
                let row = sqlx::query(Self::sql(&sql))
                    .bind(worker)
                    .bind(self.now().await?)
                    .bind(run_id)
                    .bind(run_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                let Some(row) = row else { return Ok(None) };
                let job: String = sqlx::query_scalar(Self::sql("SELECT name FROM jobs WHERE id = ?"))
                    .bind(row.try_get::<i64, _>("job_id").map_err(db)?)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                Self::task_from(&row, job).map(Some)
            }

            async fn renew_task(&self, run_id: i64, position: u32, worker: &str) -> Result<bool> {
                let now = self.now().await?;
                self.update_held("heartbeat_at = ?", Some(now), run_id, position as i32, worker)
                    .await
            }

            async fn finish_task(&self, run_id: i64, position: u32, worker: &str) -> Result<()> {
                self.update_held("done = TRUE", None, run_id, position as i32, worker)
                    .await
                    .map(drop)
            }

            async fn release_task(&self, run_id: i64, position: u32, worker: &str) -> Result<()> {
                self.update_held("worker = NULL, heartbeat_at = NULL", None, run_id, position as i32, worker)
                    .await
                    .map(drop)
            }

            async fn free_orphaned_tasks(&self) -> Result<u64> {
                let rows = sqlx::query(Self::sql(
                    "SELECT t.run_id, t.position, t.worker, t.heartbeat_at FROM run_tasks t
                     JOIN runs r ON r.id = t.run_id
                     WHERE t.done = FALSE AND t.worker IS NOT NULL AND r.status = 'running'",
                ))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let now = self.now().await?;
                let mut freed = 0;
                for row in &rows {
                    let worker: String = row.try_get("worker").map_err(db)?;
                    let heartbeat: Option<DateTime<Utc>> = row.try_get("heartbeat_at").map_err(db)?;
                    if crate::lease::is_alive(Some(&worker), heartbeat, now) {
                        continue;
                    }
                    let freed_it = self
                        .update_held(
                            "worker = NULL, heartbeat_at = NULL, orphaned = TRUE",
                            None,
                            row.try_get("run_id").map_err(db)?,
                            row.try_get("position").map_err(db)?,
                            &worker,
                        )
                        .await?;
                    freed += u64::from(freed_it);
                }
                Ok(freed)
            }

            async fn open_tasks(&self, run_id: i64) -> Result<u64> {
                let n: i64 = sqlx::query_scalar(Self::sql(
                    "SELECT count(*) FROM run_tasks WHERE run_id = ? AND done = FALSE",
                ))
                .bind(run_id)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                Ok(n as u64)
            }
        }
    };
}

pub(crate) use tasks;

//! The ledger: which file versions a job claimed and loaded. Its unique key (job, path,
//! version) makes a claim exclusive: of two runners, only one inserts it.

macro_rules! ledger {
    ($name:ident, $row:ty) => {
        #[async_trait]
        impl Ledger for $name {
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
                            status: Self::parsed(r, "status")?,
                            load_id: r.try_get("load_id").map_err(db)?,
                            processed_at: r.try_get("processed_at").map_err(db)?,
                            rows_loaded: r.try_get::<i64, _>("rows_loaded").map_err(db)? as u64,
                            run_id: r.try_get("run_id").map_err(db)?,
                            failures: r.try_get::<i64, _>("failures").map_err(db)? as u32,
                            last_error: r.try_get("last_error").map_err(db)?,
                            content: r.try_get("content").map_err(db)?,
                            same_as: r.try_get("same_as").map_err(db)?,
                            generation: r.try_get::<i64, _>("generation").map_err(db)? as u32,
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
                content: Option<&str>,
            ) -> Result<bool> {
                // A version whose last load failed (or that a person forgot) is claimed
                // again in place, its failures kept; one loading, loaded, parked or
                // skipped is not. Only a run that holds its job's lease can claim.
                let result = sqlx::query(
                    Self::sql("INSERT INTO processed_files (job_id, file_path, file_version, file_size_bytes, file_last_modified,
                        etag, status, load_id, processed_at, run_id, content)
                     SELECT ?, ?, ?, ?, ?, ?, 'loading', ?, ?, ?, ?
                     WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND status = 'running')
                     ON CONFLICT (job_id, file_path, file_version) DO UPDATE
                        SET status = 'loading', load_id = excluded.load_id, processed_at = excluded.processed_at,
                            run_id = excluded.run_id, content = excluded.content, same_as = NULL
                        WHERE processed_files.status IN ('failed', 'forgotten')"),
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
                .bind(content)
                .bind(run_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                if result.rows_affected() == 1 {
                    return Ok(true);
                }
                if !self.holds_lease(run_id).await? {
                    return Err(Error::LeaseLost { run_id });
                }
                Ok(false)
            }

            async fn record_content(
                &self,
                job_id: i64,
                file_path: &str,
                file_version: &str,
                content: &str,
            ) -> Result<()> {
                sqlx::query(Self::sql(
                    "UPDATE processed_files SET content = ?
                     WHERE job_id = ? AND file_path = ? AND file_version = ? AND content IS NULL",
                ))
                .bind(content)
                .bind(job_id)
                .bind(file_path)
                .bind(file_version)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn mark_loaded(
                &self,
                job_id: i64,
                file_path: &str,
                file_version: &str,
                rows: u64,
                run_id: i64,
            ) -> Result<()> {
                let result = sqlx::query(
                    Self::sql("UPDATE processed_files SET status = 'loaded', rows_loaded = ?, processed_at = ?, run_id = ?,
                        failures = 0, last_error = NULL
                     WHERE job_id = ? AND file_path = ? AND file_version = ? AND status = 'loading'
                        AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND status = 'running')"),
                )
                .bind(rows as i64)
                .bind(Utc::now())
                .bind(run_id)
                .bind(job_id)
                .bind(file_path)
                .bind(file_version)
                .bind(run_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                if result.rows_affected() == 0 {
                    return Err(Error::LeaseLost { run_id });
                }
                Ok(())
            }

            async fn fail_file(
                &self,
                job_id: i64,
                file: &FileFailure<'_>,
                park_after: u32,
            ) -> Result<(u32, bool)> {
                // SET reads the row as it was: the count and the status agree.
                let row = sqlx::query(
                    Self::sql("UPDATE processed_files SET
                        failures = CASE WHEN last_error = ? THEN failures + 1 ELSE 1 END,
                        status = CASE WHEN ? > 0 AND (CASE WHEN last_error = ? THEN failures + 1 ELSE 1 END) >= ?
                            THEN 'parked' ELSE 'failed' END,
                        last_error = ?, processed_at = ?, run_id = ?
                     WHERE job_id = ? AND file_path = ? AND file_version = ? AND status = 'loading'
                     RETURNING failures, status"),
                )
                .bind(file.error)
                .bind(i64::from(park_after))
                .bind(file.error)
                .bind(i64::from(park_after))
                .bind(file.error)
                .bind(Utc::now())
                .bind(file.run_id)
                .bind(job_id)
                .bind(file.file_path)
                .bind(file.file_version)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                let Some(row) = row else { return Ok((0, false)) };
                let failures = row.try_get::<i64, _>("failures").map_err(db)? as u32;
                let status: String = row.try_get("status").map_err(db)?;
                Ok((failures, status == "parked"))
            }

            async fn record_same_content(
                &self,
                job_id: i64,
                run_id: i64,
                file: &FileEntry,
                content: &str,
                same_as: &str,
            ) -> Result<()> {
                let result = sqlx::query(
                    Self::sql("INSERT INTO processed_files (job_id, file_path, file_version, file_size_bytes, file_last_modified,
                        etag, status, load_id, processed_at, run_id, content, same_as)
                     SELECT ?, ?, ?, ?, ?, ?, 'loaded', '', ?, ?, ?, ?
                     WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND status = 'running')
                     ON CONFLICT (job_id, file_path, file_version) DO UPDATE
                        SET status = 'loaded', processed_at = excluded.processed_at, run_id = excluded.run_id,
                            content = excluded.content, same_as = excluded.same_as, rows_loaded = 0,
                            failures = 0, last_error = NULL
                        WHERE processed_files.status IN ('failed', 'forgotten')"),
                )
                .bind(job_id)
                .bind(&file.path)
                .bind(file.version_key())
                .bind(file.size as i64)
                .bind(file.last_modified)
                .bind(&file.e_tag)
                .bind(Utc::now())
                .bind(run_id)
                .bind(content)
                .bind(same_as)
                .bind(run_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                if result.rows_affected() == 0 && !self.holds_lease(run_id).await? {
                    return Err(Error::LeaseLost { run_id });
                }
                Ok(())
            }

            async fn skip_file(&self, job_id: i64, file: &FileEntry) -> Result<bool> {
                let result = sqlx::query(
                    Self::sql("INSERT INTO processed_files (job_id, file_path, file_version, file_size_bytes, file_last_modified,
                        etag, status, load_id, processed_at)
                     VALUES (?, ?, ?, ?, ?, ?, 'skipped', '', ?)
                     ON CONFLICT (job_id, file_path, file_version) DO UPDATE
                        SET status = 'skipped', processed_at = excluded.processed_at
                        WHERE processed_files.status IN ('failed', 'parked', 'forgotten')"),
                )
                .bind(job_id)
                .bind(&file.path)
                .bind(file.version_key())
                .bind(file.size as i64)
                .bind(file.last_modified)
                .bind(&file.e_tag)
                .bind(Utc::now())
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(result.rows_affected() == 1)
            }

            async fn retry_file(&self, job_id: i64, file_path: &str) -> Result<u64> {
                let result = sqlx::query(
                    Self::sql("UPDATE processed_files SET status = 'failed', failures = 0, processed_at = ?
                     WHERE job_id = ? AND file_path = ? AND status IN ('failed', 'parked', 'skipped')"),
                )
                .bind(Utc::now())
                .bind(job_id)
                .bind(file_path)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(result.rows_affected())
            }

            async fn forget_file(&self, job_id: i64, file_path: &str) -> Result<u64> {
                let result = sqlx::query(
                    Self::sql("UPDATE processed_files SET status = 'forgotten', generation = generation + 1,
                        rows_loaded = 0, same_as = NULL, processed_at = ?
                     WHERE job_id = ? AND file_path = ? AND status = 'loaded'"),
                )
                .bind(Utc::now())
                .bind(job_id)
                .bind(file_path)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(result.rows_affected())
            }

            async fn adopt_files(&self, job_id: i64, files: &[Adopted]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                for f in files {
                    let (size, modified, etag) = match &f.listed {
                        Some(l) => (l.size as i64, l.last_modified, l.e_tag.clone()),
                        None => (0, Utc::now(), None),
                    };
                    sqlx::query(
                        Self::sql("INSERT INTO processed_files (job_id, file_path, file_version, file_size_bytes, file_last_modified,
                            etag, status, load_id, processed_at, rows_loaded)
                         VALUES (?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?)
                         ON CONFLICT (job_id, file_path, file_version) DO NOTHING"),
                    )
                    .bind(job_id)
                    .bind(&f.file_path)
                    .bind(&f.file_version)
                    .bind(size)
                    .bind(modified)
                    .bind(etag)
                    .bind(&f.load_id)
                    .bind(Utc::now())
                    .bind(f.rows as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn release_claim(&self, job_id: i64, file_path: &str, file_version: &str) -> Result<()> {
                // A version that had failed before goes back to failed, its count as it was.
                for sql in [
                    "UPDATE processed_files SET status = 'failed'
                     WHERE job_id = ? AND file_path = ? AND file_version = ? AND status = 'loading' AND failures > 0",
                    "DELETE FROM processed_files WHERE job_id = ? AND file_path = ? AND file_version = ? AND status = 'loading'",
                ] {
                    sqlx::query(Self::sql(sql))
                        .bind(job_id)
                        .bind(file_path)
                        .bind(file_version)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                }
                Ok(())
            }
        }
    };
}

pub(crate) use ledger;

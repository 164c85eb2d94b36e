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
        }
    };
}

pub(crate) use ledger;

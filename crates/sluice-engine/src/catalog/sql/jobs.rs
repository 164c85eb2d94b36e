//! Jobs: their settings and reviewed schema; key rotation's re-sealing of connections and
//! destinations together.

macro_rules! jobs {
    ($name:ident, $row:ty) => {
        impl $name {
            fn job_from(row: &$row) -> Result<Job> {
                let policies: super::sql::Policies = Self::json(row, "policies")?;
                let mut job = Job {
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
                        park_after_failures: row.try_get::<i64, _>("park_after_failures").map_err(db)? as u32,
                        ..JobSettings::default()
                    },
                    max_file_size: row.try_get::<i64, _>("max_file_size").map_err(db)? as u64,
                    created_at: row.try_get("created_at").map_err(db)?,
                };
                policies.apply(&mut job.settings);
                Ok(job)
            }
        }

        #[async_trait]
        impl JobCatalog for $name {
            async fn create_job(&self, job: &NewJob) -> Result<Job> {
                sqlx::query(
                    Self::sql("INSERT INTO jobs (uid, name, connection_id, file_path_prefix, file_pattern, file_format,
                        file_format_options, load_latest_only, schema, schema_fingerprint, destination, table_name,
                        load_type, schedule, timezone, paused, alerts, max_file_size, park_after_failures, policies, created_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                )
                .bind(&job.uid)
                .bind(&job.name)
                .bind(job.connection_id)
                .bind(&job.file_path_prefix)
                .bind(&job.file_pattern)
                .bind(job.file_format_options.name())
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
                .bind(i64::from(job.settings.park_after_failures))
                .bind(super::sql::Policies::of(&job.settings))
                .bind(Utc::now())
                .execute(&self.pool)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Error::Exists { kind: Kind::Job, name: job.name.clone() }
                    } else {
                        db(e)
                    }
                })?;
                let created = self.job(&job.name).await?;
                let first = crate::model::NewSchemaVersion {
                    schema: job.schema.clone(),
                    diff: None,
                    change: Default::default(),
                    file_path: None,
                    file_fingerprint: Some(job.schema_fingerprint.clone()),
                    how: "created".into(),
                };
                Self::insert_version(&self.pool, created.id, crate::model::VersionStatus::Accepted, &first).await?;
                Ok(created)
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
                    .ok_or_else(|| Error::not_found(Kind::Job, name))?;
                Self::job_from(&row)
            }

            async fn update_job(&self, job: &Job, changes: &[FieldChange]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                sqlx::query(
                    Self::sql("UPDATE jobs SET file_path_prefix = ?, file_pattern = ?, file_format = ?, file_format_options = ?,
                        load_latest_only = ?, max_file_size = ?, load_type = ?, schedule = ?, timezone = ?, paused = ?,
                        alerts = ?, park_after_failures = ?, policies = ? WHERE id = ?"),
                )
                .bind(&job.file_path_prefix)
                .bind(&job.file_pattern)
                .bind(job.file_format_options.name())
                .bind(to_json(&job.file_format_options))
                .bind(job.load_latest_only)
                .bind(job.max_file_size as i64)
                .bind(job.load_type.to_string())
                .bind(job.settings.schedule.to_string())
                .bind(job.settings.timezone.to_string())
                .bind(job.settings.paused)
                .bind(to_json(&job.settings.alerts))
                .bind(i64::from(job.settings.park_after_failures))
                .bind(super::sql::Policies::of(&job.settings))
                .bind(job.id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if !changes.is_empty() {
                    sqlx::query(Self::sql("INSERT INTO job_changes (job_id, changed_at, changes) VALUES (?, ?, ?)"))
                        .bind(job.id)
                        .bind(Utc::now())
                        .bind(to_json(&changes))
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn job_changes(&self, job_id: i64) -> Result<Vec<JobChange>> {
                let rows = sqlx::query(Self::sql("SELECT changed_at, changes FROM job_changes WHERE job_id = ? ORDER BY id DESC"))
                    .bind(job_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(JobChange {
                            changed_at: r.try_get("changed_at").map_err(db)?,
                            changes: Self::json(r, "changes")?,
                        })
                    })
                    .collect()
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

            async fn update_secrets(
                &self,
                configs: &[(i64, ConnectionConfig)],
                jobs: &[SealedJob],
            ) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                for job in jobs {
                    sqlx::query(Self::sql("UPDATE jobs SET destination = ?, alerts = ? WHERE id = ?"))
                        .bind(to_json(&job.destination))
                        .bind(to_json(&job.alerts))
                        .bind(job.id)
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
        }
    };
}

pub(crate) use jobs;

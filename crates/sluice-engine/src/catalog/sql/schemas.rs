//! Schema versions: each job's accepted and proposed schemas, numbered from 1.

macro_rules! schemas {
    ($name:ident, $row:ty) => {
        impl $name {
            fn version_from(row: &$row) -> Result<SchemaVersion> {
                let diff: Option<String> = row.try_get("diff").map_err(db)?;
                Ok(SchemaVersion {
                    version: row.try_get::<i64, _>("version").map_err(db)? as u32,
                    status: Self::parsed(row, "status")?,
                    schema: Self::json(row, "schema")?,
                    fingerprint: row.try_get("fingerprint").map_err(db)?,
                    diff: diff
                        .map(|d| serde_json::from_str(&d))
                        .transpose()
                        .map_err(|e| Error::Catalog(format!("column diff holds invalid JSON: {e}")))?,
                    change: Self::json(row, "change")?,
                    file_path: row.try_get("file_path").map_err(db)?,
                    file_fingerprint: row.try_get("file_fingerprint").map_err(db)?,
                    how: row.try_get("how").map_err(db)?,
                    created_at: row.try_get("created_at").map_err(db)?,
                    accepted_at: row.try_get("accepted_at").map_err(db)?,
                })
            }

            const VERSION_COLUMNS: &'static str =
                "version, status, schema, fingerprint, diff, change, file_path, file_fingerprint, how, created_at, accepted_at";

            /// Inserts a version numbered one past the job's newest.
            async fn insert_version<'c, E>(
                conn: E,
                job_id: i64,
                status: crate::model::VersionStatus,
                v: &NewSchemaVersion,
            ) -> Result<SchemaVersion>
            where
                E: sqlx::Executor<'c, Database = <$row as sqlx::Row>::Database>,
            {
                let now = Utc::now();
                let accepted = (status == crate::model::VersionStatus::Accepted).then_some(now);
                let sql = format!(
                    "INSERT INTO schema_versions (job_id, version, status, schema, fingerprint, diff, change, file_path, file_fingerprint, how, created_at, accepted_at)
                     SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM schema_versions WHERE job_id = ?
                     RETURNING {}",
                    Self::VERSION_COLUMNS
                );
                let row = sqlx::query(Self::sql(&sql))
                    .bind(job_id)
                    .bind(status.as_str())
                    .bind(to_json(&v.schema))
                    .bind(v.fingerprint())
                    .bind(v.diff.as_ref().map(to_json))
                    .bind(to_json(&v.change))
                    .bind(v.file_path.clone())
                    .bind(v.file_fingerprint.clone())
                    .bind(&v.how)
                    .bind(now)
                    .bind(accepted)
                    .bind(job_id)
                    .fetch_one(conn)
                    .await
                    .map_err(db)?;
                Self::version_from(&row)
            }
        }

        #[async_trait]
        impl SchemaCatalog for $name {
            async fn schema_versions(&self, job_id: i64) -> Result<Vec<SchemaVersion>> {
                let sql = format!(
                    "SELECT {} FROM schema_versions WHERE job_id = ? ORDER BY version DESC",
                    Self::VERSION_COLUMNS
                );
                let rows = sqlx::query(Self::sql(&sql))
                    .bind(job_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(Self::version_from).collect()
            }

            async fn propose_schema(
                &self,
                job_id: i64,
                version: &NewSchemaVersion,
            ) -> Result<SchemaVersion> {
                let sql = format!(
                    "SELECT {} FROM schema_versions WHERE job_id = ? AND status = 'proposed' AND fingerprint = ? ORDER BY version DESC",
                    Self::VERSION_COLUMNS
                );
                let same = sqlx::query(Self::sql(&sql))
                    .bind(job_id)
                    .bind(version.fingerprint())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                if let Some(row) = same {
                    return Self::version_from(&row);
                }
                Self::insert_version(&self.pool, job_id, crate::model::VersionStatus::Proposed, version).await
            }

            async fn accept_schema(
                &self,
                job_id: i64,
                proposed: Option<u32>,
                version: &NewSchemaVersion,
                file_fingerprint: &str,
                settings: Option<&crate::model::JobSettings>,
            ) -> Result<SchemaVersion> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                let accepted = match proposed {
                    Some(n) => {
                        let sql = format!(
                            "UPDATE schema_versions SET status = 'accepted', schema = ?, fingerprint = ?, change = ?, how = ?, accepted_at = ?
                             WHERE job_id = ? AND version = ? AND status = 'proposed' RETURNING {}",
                            Self::VERSION_COLUMNS
                        );
                        let row = sqlx::query(Self::sql(&sql))
                            .bind(to_json(&version.schema))
                            .bind(version.fingerprint())
                            .bind(to_json(&version.change))
                            .bind(&version.how)
                            .bind(Utc::now())
                            .bind(job_id)
                            .bind(i64::from(n))
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db)?
                            .ok_or_else(|| Error::Conflict(format!("schema version {n} is not a proposed version of this job")))?;
                        Self::version_from(&row)?
                    }
                    None => Self::insert_version(&mut *tx, job_id, crate::model::VersionStatus::Accepted, version).await?,
                };
                // The job's settings stay as they are unless the version changes them.
                sqlx::query(Self::sql("UPDATE jobs SET schema = ?, schema_fingerprint = ?, policies = COALESCE(?, policies) WHERE id = ?"))
                    .bind(to_json(&version.schema))
                    .bind(file_fingerprint)
                    .bind(settings.map(crate::catalog::sql::Policies::of))
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(accepted)
            }
        }
    };
}

pub(crate) use schemas;

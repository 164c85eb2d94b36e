//! Incidents: an alert's condition, open from when it starts until it ends; at most one of
//! a kind and key is open per job.

macro_rules! incidents {
    ($name:ident, $row:ty) => {
        impl $name {
            fn incident_from(r: &$row) -> Result<Incident> {
                let kind: String = r.try_get("kind").map_err(db)?;
                Ok(Incident {
                    id: r.try_get("id").map_err(db)?,
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
        }

        #[async_trait]
        impl IncidentCatalog for $name {
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
                let rows = sqlx::query(
                    Self::sql("UPDATE alert_incidents SET closed_at = ?
                     WHERE job_id = ? AND kind = ? AND closed_at IS NULL AND (CAST(? AS TEXT) IS NULL OR key = ?)
                     RETURNING *, (SELECT j.name FROM jobs j WHERE j.id = alert_incidents.job_id) AS job"),
                )
                .bind(at)
                .bind(job_id)
                .bind(kind.as_str())
                .bind(key)
                .bind(key)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::incident_from).collect()
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
                let rows = sqlx::query(
                    Self::sql("SELECT i.*, j.name AS job FROM alert_incidents i JOIN jobs j ON j.id = i.job_id
                     WHERE i.job_id = ? ORDER BY i.id DESC LIMIT ?"),
                )
                .bind(job_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter().map(Self::incident_from).collect()
            }
        }
    };
}

pub(crate) use incidents;

//! Connections: their configs (credentials already sealed) by name.

macro_rules! connections {
    ($name:ident, $row:ty) => {
        impl $name {
            fn connection_from(row: &$row) -> Result<ConnectionRecord> {
                Ok(ConnectionRecord {
                    id: row.try_get("id").map_err(db)?,
                    name: row.try_get("name").map_err(db)?,
                    config: Self::json(row, "config")?,
                    created_at: row.try_get("created_at").map_err(db)?,
                    updated_at: row.try_get("updated_at").map_err(db)?,
                })
            }
        }

        #[async_trait]
        impl ConnectionCatalog for $name {
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
                        Error::Exists { kind: Kind::Connection, name: name.to_string() }
                    } else {
                        db(e)
                    }
                })?;
                Self::connection_from(&row)
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
                    .ok_or_else(|| Error::not_found(Kind::Connection, name))?;
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
                    return Err(Error::InUse {
                        kind: Kind::Connection,
                        name: name.to_string(),
                        message: format!(
                            "connection '{name}' is used by job(s) {}; delete them first",
                            users.join(", ")
                        ),
                    });
                }
                sqlx::query(Self::sql("DELETE FROM connections WHERE id = ?"))
                    .bind(conn.id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn update_connection(&self, id: i64, config: &ConnectionConfig) -> Result<()> {
                self.update_secrets(&[(id, config.clone())], &[]).await
            }
        }
    };
}

pub(crate) use connections;

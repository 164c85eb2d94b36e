//! PostgreSQL: a server reached by a connection URL (`postgres://user:pass@host/db?sslmode=prefer`).
//!
//! Each load is one transaction on one connection: an optional `DELETE` (replace), the
//! file's batches streamed through `COPY … FROM STDIN` in PostgreSQL's binary format (text
//! for tables with array columns), one batch at a time,
//! and the marker row in `_sluice_loads`. An error anywhere (the reader's included) aborts
//! the `COPY` and rolls the transaction back, so the table and the markers stay as they were.
//!
//! The marker table lives in the connection's default schema (the first of its
//! `search_path`, normally `public`), like the tables named without a schema.

mod binary;
mod config;
mod copy;
mod preview;
mod quarantine;
mod tls;
mod types;

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use sluice_core::names::{TableName, quote_ident};
use sluice_core::schema::{Column, WarehouseType, lineage};
use tokio::sync::OnceCell;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use self::config::PostgresConfig;

/// The staging table of a part whose rows are deduplicated (dropped at commit).
const DEDUP_STAGE: &str = "pg_temp.__sluice_dedup";
use self::copy::encode_batch;
pub use self::types::{TYPE_MAP, postgres_type, warehouse_type};
use crate::{Error, Load, LoadMode, LoadReceipt, Result, Sink, TableLoad};

/// How long to wait for the server to accept a connection, unless the URL says
/// (`connect_timeout=SECONDS`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

const MARKERS: &str = "CREATE TABLE IF NOT EXISTS _sluice_loads (
    load_id text PRIMARY KEY,
    table_name text NOT NULL,
    file_path text NOT NULL,
    file_version text NOT NULL,
    rows bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
)";

/// SQLSTATEs after which the same load may succeed: serialization failures, deadlocks,
/// too many connections, a server shutting down or starting, lock timeouts; any class 08
/// (connection exception) is transient too.
const TRANSIENT_SQLSTATES: &[&str] = &[
    "40001", "40P01", "53000", "53100", "53200", "53300", "53400", "55P03", "57P01", "57P02",
    "57P03", "57014",
];

/// Whether a PostgreSQL error with this SQLSTATE may pass if tried again.
pub fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") || TRANSIENT_SQLSTATES.contains(&code)
}

/// A PostgreSQL database.
pub struct PostgresSink {
    /// The URL with its password redacted, for messages.
    shown: String,
    config: Config,
    tls: MakeRustlsConnect,
    markers: OnceCell<()>,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSink")
            .field("url", &self.shown)
            .finish()
    }
}

impl PostgresSink {
    /// A sink for the database at `url`; connections are made for each operation, so this
    /// does not fail when the server is down ([`Sink::check`] says whether it answers).
    ///
    /// The URL takes libpq's parameters as tokio-postgres reads them (`connect_timeout`,
    /// `application_name`, `options` …), and libpq's TLS parameters: `sslmode` (`disable`,
    /// `prefer`, `require`, `verify-ca`, `verify-full`) and `sslrootcert` (see `tls`).
    ///
    /// # Errors
    /// [`Error::Destination`] when the URL cannot be read.
    pub fn new(url: &str) -> Result<Self> {
        let shown = sluice_core::secret::redact_password(url);
        let invalid = |message: String| Error::Destination {
            destination: shown.clone(),
            message,
        };
        let (url, tls) =
            tls::split(url).map_err(|e| invalid(format!("invalid PostgreSQL URL: {e}")))?;
        let mut config = Config::from_str(&url).map_err(|e| {
            invalid(format!(
                "invalid PostgreSQL URL: {e}; write it as postgres://user:password@host:5432/database?sslmode=prefer"
            ))
        })?;
        let tls = tls::connector(&tls).map_err(invalid)?;
        if config.get_application_name().is_none() {
            config.application_name("sluice");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        Ok(Self {
            shown,
            config,
            tls,
            markers: OnceCell::new(),
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Destination {
            destination: self.describe(),
            message: e.to_string(),
        }
    }

    /// Classifies the driver's error: the server's by SQLSTATE (with its detail and where
    /// it happened), the rest (network, protocol) by message.
    fn sql_error(&self, e: tokio_postgres::Error, doing: &str) -> Error {
        if let Some(db) = e.as_db_error() {
            let mut message = format!("{doing}: {}", db.message());
            if let Some(detail) = db.detail() {
                let _ = write!(message, " ({detail})");
            }
            if let Some(at) = db.where_() {
                let _ = write!(message, " [{at}]");
            }
            return Error::Sql {
                destination: self.describe(),
                code: db.code().code().to_string(),
                message,
            };
        }
        let mut message = format!("{doing}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let _ = write!(message, ": {s}");
            source = s.source();
        }
        self.error(message)
    }

    /// A connection of its own for one operation; its I/O runs on a task of its own.
    async fn client(&self) -> Result<Client> {
        let (client, connection) = self.config.connect(self.tls.clone()).await.map_err(|e| {
            let mut err = self.sql_error(e, "cannot connect");
            if let Error::Destination { message, .. } = &mut err {
                if message.contains("invalid peer certificate") {
                    message.push_str(
                        " — the server's certificate is not trusted: give the CA that signed it with sslrootcert=FILE (PEM), or use sslmode=verify-ca when the certificate names another host",
                    );
                } else if message.contains("server does not support TLS") {
                    message.push_str(
                        " — the server does not offer TLS: enable ssl in postgresql.conf, or use sslmode=prefer or disable on a trusted network",
                    );
                }
            }
            err
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("PostgreSQL connection ended: {e}");
            }
        });
        Ok(client)
    }

    async fn ensure_markers(&self, client: &Client) -> Result<()> {
        self.markers
            .get_or_try_init(|| async {
                client
                    .batch_execute(MARKERS)
                    .await
                    .map_err(|e| self.sql_error(e, "cannot create the marker table _sluice_loads"))
            })
            .await
            .map(|_| ())
    }

    /// Columns of a table as `(name, type)`, empty if there is no such table. The name
    /// resolves as PostgreSQL resolves it in a query (`search_path` for unqualified ones).
    pub(super) async fn table_columns(
        &self,
        client: &Client,
        table: &TableName,
    ) -> Result<Vec<(String, String)>> {
        let rows = client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
                 FROM pg_attribute a
                 WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum",
                &[&table.quoted()],
            )
            .await
            .map_err(|e| self.sql_error(e, &format!("cannot read the columns of {table}")))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.sql_error(e, &format!("cannot read the columns of {table}")))
    }
}

#[async_trait]
impl Sink for PostgresSink {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn check(&self) -> Result<()> {
        let client = self.client().await?;
        client
            .batch_execute("SELECT 1")
            .await
            .map_err(|e| self.sql_error(e, "cannot query the database"))
    }

    async fn ensure_table(&self, table: &TableName, columns: &[Column]) -> Result<()> {
        let client = self.client().await?;
        self.ensure_markers(&client).await?;
        let existing = self.table_columns(&client, table).await?;
        if existing.is_empty() {
            let mut sql = String::new();
            if let Some(schema) = table.schema() {
                let _ = writeln!(sql, "CREATE SCHEMA IF NOT EXISTS {};", quote_ident(schema));
            }
            sql.push_str(&crate::sql::create_table_sql(table, columns, postgres_type));
            return client.batch_execute(&sql).await.map_err(|e| {
                self.sql_error(
                    e,
                    &format!(
                        "cannot create table {table} (the user needs CREATE on the database for a new schema, and on the schema for a table)"
                    ),
                )
            });
        }
        crate::sql::check_columns(table, &existing, columns, postgres_type)
    }

    async fn alter_table(
        &self,
        table: &TableName,
        change: &sluice_core::schema::TableChange,
    ) -> Result<()> {
        if change.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let existing: Vec<String> = self
            .table_columns(&client, table)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        // A date becomes the instant of its midnight in UTC, whatever the session's zone.
        let sql =
            crate::sql::alter_table_sql(table, &existing, change, postgres_type, |c, from, to| {
                (from == WarehouseType::Date && to == WarehouseType::Timestamp)
                    .then(|| format!("CAST({c} AS timestamp) AT TIME ZONE 'UTC'"))
            });
        // One simple query: PostgreSQL runs its statements as one transaction.
        client.batch_execute(&sql).await.map_err(|e| {
            self.sql_error(
                e,
                &format!("cannot change table {table} ({change}; the user must own the table)"),
            )
        })
    }

    async fn load_parts(
        &self,
        table: &TableName,
        columns: &[Column],
        load: Load,
    ) -> Result<LoadReceipt> {
        let mut client = self.client().await?;
        self.ensure_markers(&client).await?;
        let what = load.describe();
        let at = |what: &str, step: &str| format!("loading {what} into {table}: {step}");
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.sql_error(e, &at(&what, "BEGIN")))?;
        if load.mode == LoadMode::Replace {
            tx.batch_execute(&format!("DELETE FROM {}", table.quoted()))
                .await
                .map_err(|e| self.sql_error(e, &at(&what, "DELETE")))?;
        }
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        // A part whose rows are deduplicated is copied into a staging table first.
        let target = if load.dedup.is_some() {
            DEDUP_STAGE.to_string()
        } else {
            table.quoted()
        };
        // PostgreSQL's binary format where every column has one; text for arrays.
        let binary = binary::supports(columns);
        let copy_sql = format!(
            "COPY {target} ({}) FROM STDIN{}",
            names.join(", "),
            if binary { " (FORMAT binary)" } else { "" }
        );
        let mut parts = Vec::with_capacity(load.parts.len());
        let (marker_path, marker_version) = (load.marker_path(), load.marker_version());
        for mut part in load.parts {
            let file = part.file_path.clone();
            if part.replace_rows {
                tx.execute(
                    &format!(
                        "DELETE FROM {} WHERE {} = $1",
                        table.quoted(),
                        quote_ident(lineage::FILE)
                    ),
                    &[&file],
                )
                .await
                .map_err(|e| {
                    self.sql_error(e, &at(&file, "deleting the rows of its earlier version"))
                })?;
            }
            if load.dedup.is_some() {
                tx.batch_execute(&format!(
                    "DROP TABLE IF EXISTS {DEDUP_STAGE}; CREATE TEMP TABLE {DEDUP_STAGE} (LIKE {}) ON COMMIT DROP",
                    table.quoted()
                ))
                .await
                .map_err(|e| self.sql_error(e, &at(&file, "staging its rows")))?;
            }
            let mut copy = Box::pin(
                tx.copy_in::<_, bytes::Bytes>(copy_sql.as_str())
                    .await
                    .map_err(|e| self.sql_error(e, &at(&file, "COPY")))?,
            );
            let mut failure: Option<Error> = None;
            let mut encoder = None;
            if binary {
                match binary::BinaryCopy::new(columns) {
                    Ok((e, header)) => {
                        encoder = Some(e);
                        if let Err(e) = copy.send(header).await {
                            failure = Some(self.sql_error(e, &at(&file, "COPY")));
                        }
                    }
                    Err(e) => failure = Some(self.error(at(&file, &e))),
                }
            }
            while failure.is_none()
                && let Some(item) = part.batches.next().await
            {
                let batch = match item {
                    Ok(batch) => batch,
                    Err(e) => {
                        failure = Some(Error::Source(e));
                        break;
                    }
                };
                let encoded = match encoder.as_mut() {
                    Some(binary) => binary.batch(&batch),
                    None => {
                        let mut buf = String::new();
                        encode_batch(&batch, columns, &mut buf).map(|()| bytes::Bytes::from(buf))
                    }
                };
                let bytes = match encoded {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        failure = Some(self.error(at(&file, &e)));
                        break;
                    }
                };
                if let Err(e) = copy.send(bytes).await {
                    failure = Some(self.sql_error(e, &at(&file, "COPY")));
                    break;
                }
                sluice_core::fault::hit("mid-load");
            }
            if failure.is_none()
                && let Some(binary) = encoder
            {
                match binary.finish() {
                    Ok(trailer) => {
                        if let Err(e) = copy.send(trailer).await {
                            failure = Some(self.sql_error(e, &at(&file, "COPY")));
                        }
                    }
                    Err(e) => failure = Some(self.error(at(&file, &e))),
                }
            }
            if let Some(failure) = failure {
                // Dropping the unfinished COPY aborts it; the transaction rolls back with it.
                drop(copy);
                let _ = tx.rollback().await;
                return Err(failure);
            }
            let mut rows = copy
                .as_mut()
                .finish()
                .await
                .map_err(|e| self.sql_error(e, &at(&file, "COPY")))?;
            if let Some(dedup) = &load.dedup {
                // A fresh staging table holds its rows in the order they were copied.
                for sql in crate::dedup::move_sql(
                    dedup,
                    &table.quoted(),
                    DEDUP_STAGE,
                    columns,
                    Some("ctid"),
                    quote_ident,
                ) {
                    rows = tx
                        .execute(&sql, &[])
                        .await
                        .map_err(|e| self.sql_error(e, &at(&file, "moving its rows by key")))?;
                }
            }
            parts.push(rows);
            let rejected = part
                .rejects
                .as_ref()
                .and_then(|r| r.batch(&file, &load.load_id));
            if rejected.is_some() || part.clear_rejected {
                self.write_rejected(&tx, table, &file, part.clear_rejected, rejected)
                    .await
                    .map_err(|e| e.about(at(&file, "writing its rejected rows")))?;
            }
        }
        let rows: u64 = parts.iter().sum();
        tx.execute(
            "INSERT INTO _sluice_loads (load_id, table_name, file_path, file_version, rows)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &load.load_id,
                &table.to_string(),
                &marker_path,
                &marker_version,
                &(rows as i64),
            ],
        )
        .await
        .map_err(|e| self.sql_error(e, &at(&what, "recording the load in _sluice_loads")))?;
        tx.commit()
            .await
            .map_err(|e| self.sql_error(e, &at(&what, "COMMIT")))?;
        Ok(LoadReceipt {
            load_id: load.load_id,
            rows,
            parts,
        })
    }

    async fn table_loads(&self, table: &TableName) -> Result<Option<Vec<TableLoad>>> {
        let client = self.client().await?;
        let exists = client
            .query_opt(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
                &[&table.schema().unwrap_or("public"), &table.name()],
            )
            .await
            .map_err(|e| self.sql_error(e, &format!("looking for table {table}")))?
            .is_some();
        if !exists {
            return Ok(None);
        }
        self.ensure_markers(&client).await?;
        let rows = client
            .query(
                "SELECT load_id, file_path, file_version, rows FROM _sluice_loads WHERE table_name = $1",
                &[&table.to_string()],
            )
            .await
            .map_err(|e| self.sql_error(e, &format!("reading the loads of {table}")))?;
        let read = |e| self.sql_error(e, "reading _sluice_loads");
        rows.iter()
            .map(|r| {
                Ok(TableLoad {
                    load_id: r.try_get(0).map_err(read)?,
                    file_paths: r
                        .try_get::<_, String>(1)
                        .map_err(read)?
                        .split('\n')
                        .map(str::to_string)
                        .collect(),
                    file_version: r.try_get(2).map_err(read)?,
                    rows: r.try_get::<_, i64>(3).map_err(read)? as u64,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn delete_file_rows(&self, table: &TableName, file_path: &str) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE {} = $1",
                    table.quoted(),
                    quote_ident(lineage::FILE)
                ),
                &[&file_path],
            )
            .await
            .map_err(|e| {
                self.sql_error(e, &format!("deleting the rows of {file_path} from {table}"))
            })
    }

    async fn was_loaded(&self, load_id: &str) -> Result<Option<LoadReceipt>> {
        let client = self.client().await?;
        self.ensure_markers(&client).await?;
        let row = client
            .query_opt(
                "SELECT rows FROM _sluice_loads WHERE load_id = $1",
                &[&load_id],
            )
            .await
            .map_err(|e| self.sql_error(e, "cannot read _sluice_loads"))?;
        row.map(|r| Ok(LoadReceipt::new(load_id, r.try_get::<_, i64>(0)? as u64)))
            .transpose()
            .map_err(|e| self.sql_error(e, "cannot read _sluice_loads"))
    }

    /// Drops the table with its markers: the loads it held are gone with it.
    async fn drop_table(&self, table: &TableName) -> Result<()> {
        let mut client = self.client().await?;
        self.ensure_markers(&client).await?;
        let fail = |e| self.sql_error(e, &format!("cannot drop {table}"));
        let tx = client.transaction().await.map_err(fail)?;
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", table.quoted()))
            .await
            .map_err(fail)?;
        tx.execute(
            "DELETE FROM _sluice_loads WHERE table_name = $1",
            &[&table.to_string()],
        )
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_contention_sqlstates_are_transient_data_errors_are_not() {
        for code in ["40001", "40P01", "08006", "08001", "53300", "57P01"] {
            assert!(transient_sqlstate(code), "{code}");
        }
        for code in ["23502", "22P02", "42P01", "42501"] {
            assert!(!transient_sqlstate(code), "{code}");
        }
    }
}

//! PostgreSQL: a server reached by a connection URL (`postgres://user:pass@host/db?sslmode=prefer`).
//!
//! Each load is one transaction on one connection: an optional `DELETE` (replace), the
//! file's batches streamed through `COPY … FROM STDIN` in text format, one batch at a time,
//! and the marker row in `_sluice_loads`. An error anywhere (the reader's included) aborts
//! the `COPY` and rolls the transaction back, so the table and the markers stay as they were.
//!
//! The marker table lives in the connection's default schema (the first of its
//! `search_path`, normally `public`), like the tables named without a schema.

mod tls;
mod types;

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use sluice_core::format::BatchStream;
use sluice_core::names::{TableName, quote_ident};
use sluice_core::schema::{Column, UTC, WarehouseType, arrow_schema};
use tokio::sync::OnceCell;
use tokio_postgres::{Client, Config, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use self::types::{TYPE_MAP, postgres_type, warehouse_type};
use crate::{Error, FileLoad, LoadMode, LoadReceipt, Result, Sink};

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
        let shown = redact_url(url);
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
    async fn table_columns(
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

/// The URL with its password (in the user info or a `password=` parameter) replaced by `••••`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, "••••");
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=••••"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// Appends a batch to `out` in `COPY` text format: tab-separated, `\N` for NULL, one line
/// a row. Columns are first cast to their warehouse type's Arrow type (a no-op for batches
/// that come through the schema gate).
///
/// # Errors
/// A message naming the column when a value cannot be written.
fn encode_batch(batch: &RecordBatch, columns: &[Column], out: &mut String) -> Result<(), String> {
    if batch.num_columns() != columns.len() {
        return Err(format!(
            "the batch has {} columns, the table {}",
            batch.num_columns(),
            columns.len()
        ));
    }
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .zip(batch.columns())
        .map(|(c, a)| {
            arrow::compute::cast(a, &c.ty.arrow_type())
                .map_err(|e| format!("column {}: cannot read as {}: {e}", c.name, c.ty))
        })
        .collect::<Result<_, _>>()?;
    for row in 0..batch.num_rows() {
        for (i, (c, a)) in columns.iter().zip(&arrays).enumerate() {
            if i > 0 {
                out.push('\t');
            }
            if a.is_null(row) {
                out.push_str("\\N");
                continue;
            }
            encode_value(c.ty, a, row, out)
                .map_err(|e| format!("column {} row {}: {e}", c.name, row + 1))?;
        }
        out.push('\n');
    }
    Ok(())
}

fn encode_value(
    ty: WarehouseType,
    a: &ArrayRef,
    row: usize,
    out: &mut String,
) -> Result<(), String> {
    match ty {
        WarehouseType::Int64 => {
            let _ = write!(out, "{}", a.as_primitive::<Int64Type>().value(row));
        }
        WarehouseType::Float64 => {
            let v = a.as_primitive::<Float64Type>().value(row);
            if v.is_nan() {
                out.push_str("NaN");
            } else if v.is_infinite() {
                out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
            } else {
                // `{:e}` is the shortest text that reads back as the same double.
                let _ = write!(out, "{v:e}");
            }
        }
        WarehouseType::Numeric => {
            let a = a.as_primitive::<Decimal128Type>();
            push_decimal(a.value(row), a.scale(), out);
        }
        WarehouseType::Bool => {
            out.push(if a.as_boolean().value(row) { 't' } else { 'f' });
        }
        WarehouseType::Date => {
            let days = a.as_primitive::<Date32Type>().value(row);
            let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .ok_or_else(|| format!("date {days} days from 1970 is out of range"))?;
            let _ = write!(out, "{}", date.format("%Y-%m-%d"));
        }
        WarehouseType::Timestamp => {
            let micros = a.as_primitive::<TimestampMicrosecondType>().value(row);
            let at = chrono::DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| format!("timestamp {micros}µs from 1970 is out of range"))?;
            let _ = write!(out, "{}", at.format("%Y-%m-%d %H:%M:%S%.6f+00"));
        }
        WarehouseType::String | WarehouseType::Json => {
            push_escaped(a.as_string::<i32>().value(row), out);
        }
        WarehouseType::Bytes => {
            // bytea's hex form `\x…`, its backslash escaped for COPY.
            out.push_str("\\\\x");
            for b in a.as_binary::<i32>().value(row) {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
    Ok(())
}

fn push_decimal(value: i128, scale: i8, out: &mut String) {
    if value < 0 {
        out.push('-');
    }
    let abs = value.unsigned_abs();
    if scale <= 0 {
        let _ = write!(out, "{abs}");
        for _ in 0..-scale {
            out.push('0');
        }
        return;
    }
    let scale = scale as u32;
    let unit = 10u128.pow(scale);
    let _ = write!(
        out,
        "{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = scale as usize
    );
}

fn push_escaped(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

/// How a preview reads one column: the SQL expression and the warehouse type it becomes.
fn preview_column(name: &str, postgres: &str) -> (String, Option<WarehouseType>) {
    let col = quote_ident(name);
    match warehouse_type(postgres) {
        Some(WarehouseType::Numeric) => (format!("{col}::text"), Some(WarehouseType::Numeric)),
        Some(WarehouseType::Date) => (
            format!("({col} - DATE '1970-01-01')"),
            Some(WarehouseType::Date),
        ),
        Some(WarehouseType::Timestamp) => (
            format!("(extract(epoch FROM {col}) * 1000000)::bigint"),
            Some(WarehouseType::Timestamp),
        ),
        Some(WarehouseType::Json) => (format!("{col}::text"), Some(WarehouseType::Json)),
        Some(ty) => (col, Some(ty)),
        None => (format!("{col}::text"), None),
    }
}

fn preview_array(
    rows: &[Row],
    i: usize,
    ty: Option<WarehouseType>,
) -> Result<ArrayRef, tokio_postgres::Error> {
    fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
        r: &'r Row,
        i: usize,
    ) -> Result<Option<T>, tokio_postgres::Error> {
        r.try_get::<_, Option<T>>(i)
    }
    Ok(match ty {
        Some(WarehouseType::Int64) => {
            let mut b = Int64Builder::new();
            for r in rows {
                b.append_option(get::<i64>(r, i)?);
            }
            Arc::new(b.finish())
        }
        Some(WarehouseType::Float64) => {
            let mut b = Float64Builder::new();
            for r in rows {
                b.append_option(get::<f64>(r, i)?);
            }
            Arc::new(b.finish())
        }
        Some(WarehouseType::Bool) => {
            let mut b = BooleanBuilder::new();
            for r in rows {
                b.append_option(get::<bool>(r, i)?);
            }
            Arc::new(b.finish())
        }
        Some(WarehouseType::Date) => {
            let mut b = Date32Builder::new();
            for r in rows {
                b.append_option(get::<i32>(r, i)?);
            }
            Arc::new(b.finish())
        }
        Some(WarehouseType::Timestamp) => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone(UTC);
            for r in rows {
                b.append_option(get::<i64>(r, i)?);
            }
            Arc::new(b.finish())
        }
        Some(WarehouseType::Bytes) => {
            let mut b = BinaryBuilder::new();
            for r in rows {
                b.append_option(get::<Vec<u8>>(r, i)?);
            }
            Arc::new(b.finish())
        }
        Some(WarehouseType::Numeric) => {
            let mut b = StringBuilder::new();
            for r in rows {
                b.append_option(get::<String>(r, i)?);
            }
            let text: ArrayRef = Arc::new(b.finish());
            arrow::compute::cast(&text, &WarehouseType::Numeric.arrow_type())
                .expect("PostgreSQL prints numeric(38,9) as a decimal Arrow reads")
        }
        Some(WarehouseType::String | WarehouseType::Json) | None => {
            let mut b = StringBuilder::new();
            for r in rows {
                b.append_option(get::<String>(r, i)?);
            }
            Arc::new(b.finish())
        }
    })
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
            sql.push_str(&crate::create_table_sql(table, columns, postgres_type));
            return client.batch_execute(&sql).await.map_err(|e| {
                self.sql_error(
                    e,
                    &format!(
                        "cannot create table {table} (the user needs CREATE on the database for a new schema, and on the schema for a table)"
                    ),
                )
            });
        }
        crate::check_columns(table, &existing, columns, postgres_type)
    }

    async fn load(
        &self,
        table: &TableName,
        columns: &[Column],
        file: &FileLoad,
        mode: LoadMode,
        mut batches: BatchStream,
    ) -> Result<LoadReceipt> {
        let mut client = self.client().await?;
        self.ensure_markers(&client).await?;
        let at = |what: &str| format!("loading {} into {table}: {what}", file.file_path);
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.sql_error(e, &at("BEGIN")))?;
        if mode == LoadMode::Replace {
            tx.batch_execute(&format!("DELETE FROM {}", table.quoted()))
                .await
                .map_err(|e| self.sql_error(e, &at("DELETE")))?;
        }
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let copy_sql = format!("COPY {} ({}) FROM STDIN", table.quoted(), names.join(", "));
        let mut copy = Box::pin(
            tx.copy_in::<_, bytes::Bytes>(copy_sql.as_str())
                .await
                .map_err(|e| self.sql_error(e, &at("COPY")))?,
        );
        let mut failure: Option<Error> = None;
        while let Some(item) = batches.next().await {
            let batch = match item {
                Ok(batch) => batch,
                Err(e) => {
                    failure = Some(Error::Source(e));
                    break;
                }
            };
            let mut buf = String::new();
            if let Err(e) = encode_batch(&batch, columns, &mut buf) {
                failure = Some(self.error(at(&e)));
                break;
            }
            if let Err(e) = copy.send(bytes::Bytes::from(buf)).await {
                failure = Some(self.sql_error(e, &at("COPY")));
                break;
            }
            sluice_core::fault::hit("mid-load");
        }
        if let Some(failure) = failure {
            // Dropping the unfinished COPY aborts it; the transaction rolls back with it.
            drop(copy);
            let _ = tx.rollback().await;
            return Err(failure);
        }
        let rows = copy
            .as_mut()
            .finish()
            .await
            .map_err(|e| self.sql_error(e, &at("COPY")))?;
        tx.execute(
            "INSERT INTO _sluice_loads (load_id, table_name, file_path, file_version, rows)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &file.load_id,
                &table.to_string(),
                &file.file_path,
                &file.file_version,
                &(rows as i64),
            ],
        )
        .await
        .map_err(|e| self.sql_error(e, &at("recording the load in _sluice_loads")))?;
        tx.commit()
            .await
            .map_err(|e| self.sql_error(e, &at("COMMIT")))?;
        Ok(LoadReceipt {
            load_id: file.load_id.clone(),
            rows,
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
        row.map(|r| {
            Ok(LoadReceipt {
                load_id: load_id.to_string(),
                rows: r.try_get::<_, i64>(0)? as u64,
            })
        })
        .transpose()
        .map_err(|e| self.sql_error(e, "cannot read _sluice_loads"))
    }

    async fn drop_table(&self, table: &TableName) -> Result<()> {
        let client = self.client().await?;
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", table.quoted()))
            .await
            .map_err(|e| self.sql_error(e, &format!("cannot drop {table}")))
    }

    async fn count_rows(&self, table: &TableName) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                format!("SELECT count(*) FROM {}", table.quoted()).as_str(),
                &[],
            )
            .await
            .map_err(|e| self.sql_error(e, &format!("cannot count the rows of {table}")))?;
        let n: i64 = row
            .try_get(0)
            .map_err(|e| self.sql_error(e, &format!("cannot count the rows of {table}")))?;
        Ok(n as u64)
    }

    async fn preview(&self, table: &TableName, limit: usize) -> Result<Vec<RecordBatch>> {
        let client = self.client().await?;
        let existing = self.table_columns(&client, table).await?;
        if existing.is_empty() {
            return Err(self.error(format!("table {table} does not exist")));
        }
        let read: Vec<(String, Option<WarehouseType>)> =
            existing.iter().map(|(n, t)| preview_column(n, t)).collect();
        let sql = format!(
            "SELECT {} FROM {} LIMIT {limit}",
            read.iter()
                .map(|(e, _)| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            table.quoted()
        );
        let rows = client
            .query(sql.as_str(), &[])
            .await
            .map_err(|e| self.sql_error(e, &format!("cannot read {table}")))?;
        let columns: Vec<Column> = existing
            .iter()
            .zip(&read)
            .map(|((n, _), (_, ty))| Column::new(n.clone(), ty.unwrap_or(WarehouseType::String)))
            .collect();
        let arrays = read
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| preview_array(&rows, i, *ty))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_error(e, &format!("cannot read {table}")))?;
        let batch =
            RecordBatch::try_new(arrow_schema(&columns), arrays).map_err(|e| self.error(e))?;
        Ok(vec![batch])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_wherever_the_url_holds_them() {
        assert_eq!(
            redact_url("postgres://loader:s3cr%40t@db.example.com:5432/wh?sslmode=require"),
            "postgres://loader:••••@db.example.com:5432/wh?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/wh?user=loader&password=x&sslmode=verify-full"),
            "postgres://db/wh?user=loader&password=••••&sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgres://loader@db/wh"),
            "postgres://loader@db/wh"
        );
    }

    #[test]
    fn decimals_keep_every_digit() {
        let mut s = String::new();
        push_decimal(12_345_678_901_234_567_890_123_456_789, 9, &mut s);
        assert_eq!(s, "12345678901234567890.123456789");
        s.clear();
        push_decimal(-5, 9, &mut s);
        assert_eq!(s, "-0.000000005");
    }

    #[test]
    fn copy_text_escapes_its_delimiters() {
        let mut s = String::new();
        push_escaped("a\tb\\c\nd\re", &mut s);
        assert_eq!(s, "a\\tb\\\\c\\nd\\re");
    }

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

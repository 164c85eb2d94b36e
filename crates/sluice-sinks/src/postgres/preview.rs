//! Reading tables back, in the warehouse's Arrow types: previews and row counts.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use sluice_core::names::{TableName, quote_ident};
use sluice_core::schema::{Column, UTC, WarehouseType, arrow_schema};
use tokio_postgres::Row;

use super::{PostgresSink, warehouse_type};
use crate::{Inspect, Result};

/// How a preview reads one column: the SQL expression and the warehouse type it becomes.
fn preview_column(name: &str, postgres: &str) -> (String, Option<WarehouseType>) {
    let col = quote_ident(name);
    if postgres.ends_with("[]") {
        // Arrays as their JSON text, as BigQuery's previews show them.
        return (
            format!("array_to_json({col})::text"),
            Some(WarehouseType::Json),
        );
    }
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
impl Inspect for PostgresSink {
    async fn table_exists(&self, table: &TableName) -> Result<bool> {
        let client = self.client().await?;
        Ok(!self.table_columns(&client, table).await?.is_empty())
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

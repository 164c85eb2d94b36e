//! A part's rejected rows, written to the quarantine table inside the load's transaction.

use futures::SinkExt;
use sluice_core::names::{TableName, quote_ident};

use super::PostgresSink;
use super::copy::encode_batch;
use super::types::postgres_type;
use crate::Result;
use crate::quarantine::{self, column};

impl PostgresSink {
    /// Makes the quarantine table of `table` if it is missing, deletes the rows it held for
    /// `file` when they are being replayed (`clear`), and copies `batch` into it.
    pub(super) async fn write_rejected(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        table: &TableName,
        file: &str,
        clear: bool,
        batch: Option<arrow::record_batch::RecordBatch>,
    ) -> Result<()> {
        let target = quarantine::table_of(table);
        let columns = quarantine::columns();
        let mut ddl = String::new();
        if let Some(schema) = target.schema() {
            ddl.push_str(&format!(
                "CREATE SCHEMA IF NOT EXISTS {};\n",
                quote_ident(schema)
            ));
        }
        ddl.push_str(&crate::sql::create_table_sql(
            &target,
            &columns,
            postgres_type,
        ));
        tx.batch_execute(&ddl)
            .await
            .map_err(|e| self.sql_error(e, &format!("creating {target}")))?;
        if clear {
            tx.execute(
                &format!(
                    "DELETE FROM {} WHERE {} = $1",
                    target.quoted(),
                    quote_ident(column::FILE)
                ),
                &[&file],
            )
            .await
            .map_err(|e| self.sql_error(e, &format!("deleting {file}'s rows from {target}")))?;
        }
        let Some(batch) = batch else { return Ok(()) };
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let sql = format!("COPY {} ({}) FROM STDIN", target.quoted(), names.join(", "));
        let mut text = String::new();
        encode_batch(&batch, &columns, &mut text).map_err(|e| self.error(e))?;
        let copy = tx
            .copy_in::<_, bytes::Bytes>(sql.as_str())
            .await
            .map_err(|e| self.sql_error(e, &format!("COPY into {target}")))?;
        let mut copy = Box::pin(copy);
        copy.send(bytes::Bytes::from(text))
            .await
            .map_err(|e| self.sql_error(e, &format!("COPY into {target}")))?;
        copy.as_mut()
            .finish()
            .await
            .map_err(|e| self.sql_error(e, &format!("COPY into {target}")))?;
        sluice_core::fault::hit("mid-quarantine");
        Ok(())
    }
}

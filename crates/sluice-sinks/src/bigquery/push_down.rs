//! Push-down: a file BigQuery can read itself (a UTF-8 CSV file at a `gs://` URI) is loaded
//! by a load job from its URI, and its bytes never pass through sluice. The load job fills
//! a staging table; the rows reach the table in one transaction, and only if the file is
//! still the version listed (BigQuery's URIs cannot name a generation).

use serde_json::{Value, json};
use sluice_core::format::FormatOptions;
use sluice_core::format::csv::Encoding;
use sluice_core::names::TableName;
use sluice_core::schema::Column;

use super::BigQuerySink;
use super::job::{JobState, state_of};
use crate::{DirectSource, Error, FileLoad, LoadMode, LoadReceipt, Pin, Result};

/// The CSV fields of a load job from `source`, when BigQuery reads it as sluice does:
/// a `gs://` URI of a UTF-8 CSV file. (BigQuery's ISO-8859-1 is not the Windows-1252
/// sluice decodes Latin-1 files as.)
pub(super) fn csv_source(source: &DirectSource) -> Option<Value> {
    let FormatOptions::Csv(csv) = &source.format else {
        return None;
    };
    if !source.uri.starts_with("gs://") || csv.encoding != Encoding::Utf8 {
        return None;
    }
    Some(json!({
        "sourceUris": [source.uri],
        "sourceFormat": "CSV",
        "encoding": "UTF-8",
        "fieldDelimiter": csv.delimiter.unwrap_or(',').to_string(),
        "quote": csv.quote.unwrap_or('"').to_string(),
        "skipLeadingRows": u32::from(csv.has_header.unwrap_or(true)),
        "allowQuotedNewlines": true,
    }))
}

impl BigQuerySink {
    /// Loads `source` by a load job that reads its URI into a staging table; once `pin`
    /// says the file is still the version listed, one transaction (the load's marker job)
    /// moves the rows into `table`. A file rewritten while BigQuery read it commits
    /// nothing.
    pub(super) async fn push_down(
        &self,
        table: &TableName,
        columns: &[Column],
        file: &FileLoad,
        mode: LoadMode,
        source: &DirectSource,
        pin: Pin<'_>,
    ) -> Result<LoadReceipt> {
        let Some(csv) = csv_source(source) else {
            return Err(self.error(format!(
                "{}: BigQuery loads only UTF-8 CSV from gs:// URIs here; this file streams through sluice",
                file.file_path
            )));
        };
        let job_id = self.next_attempt(table, file).await?;
        let stage = self
            .stage_table(table, &job_id, columns, &file.file_path)
            .await?;
        let stage_job = format!("{job_id}_stage");
        let result = async {
            let body = self.load_job(&stage_job, &stage, LoadMode::Replace, csv);
            let job = self
                .client
                .post_json(&format!("{}/jobs", self.project_path()), &body)
                .await
                .map_err(|e| {
                    self.error(format!(
                        "{}: starting load job {stage_job} from {} into {stage}: {e}",
                        file.file_path, source.uri
                    ))
                })?;
            let state = match state_of(&job) {
                JobState::Running | JobState::Missing => self.wait_for(&stage_job).await?,
                done => done,
            };
            let rows = self.receipt(&stage, file, &stage_job, state, 0)?.rows;
            pin.await.map_err(Error::Source)?;
            let script = self.commit_script(table, &stage, columns, mode, &[]);
            self.run_script(&job_id, &script)
                .await
                .map_err(|e| e.about(&file.file_path))?;
            Ok::<_, Error>(rows)
        }
        .await;
        let _ = self.drop_table(&stage).await;
        Ok(LoadReceipt::new(file.load_id.clone(), result?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_down_takes_utf8_csv_from_gcs_only() {
        use sluice_core::format::csv::CsvOptions;
        let csv = |encoding| {
            FormatOptions::Csv(CsvOptions {
                delimiter: Some(';'),
                quote: Some('\''),
                has_header: Some(false),
                encoding,
            })
        };
        let source = |uri: &str, format| DirectSource {
            uri: uri.into(),
            format,
        };
        let fields = csv_source(&source("gs://b/x.csv", csv(Encoding::Utf8))).unwrap();
        assert_eq!(fields["sourceUris"], json!(["gs://b/x.csv"]));
        assert_eq!(
            (
                &fields["fieldDelimiter"],
                &fields["quote"],
                &fields["skipLeadingRows"]
            ),
            (&json!(";"), &json!("'"), &json!(0))
        );
        assert!(csv_source(&source("gs://b/x.csv", csv(Encoding::Latin1))).is_none());
        assert!(csv_source(&source("s3://b/x.csv", csv(Encoding::Utf8))).is_none());
        assert!(
            csv_source(&source(
                "gs://b/x.parquet",
                FormatOptions::Parquet(Default::default())
            ))
            .is_none()
        );
        assert!(
            csv_source(&source(
                "gs://b/x.jsonl",
                FormatOptions::Json(Default::default())
            ))
            .is_none()
        );
    }
}

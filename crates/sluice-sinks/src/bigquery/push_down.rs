//! Push-down: a file BigQuery can read itself (CSV, JSONL, Parquet, Avro or ORC at a
//! `gs://` URI) is loaded
//! by a load job from its URI, and its bytes never pass through sluice. The load job fills
//! a staging table; the rows reach the table in one transaction, and only if the file is
//! still the version listed (BigQuery's URIs cannot name a generation).

use serde_json::{Value, json};
use sluice_core::format::{Compression, FormatOptions};
use sluice_core::names::TableName;
use sluice_core::schema::Column;

use super::BigQuerySink;
use super::job::{JobState, state_of};
use crate::{DirectSource, Error, FileLoad, LoadMode, LoadReceipt, Pin, Result, Sink};

/// The source fields of a load job from `source`, when BigQuery reads it as sluice does:
/// a `gs://` URI of UTF-8 CSV (plain or gzipped: BigQuery reads no other codec),
/// newline-delimited JSON (`.jsonl`, `.ndjson`; plain or gzipped), Parquet, Avro (logical
/// types as such) or ORC. (BigQuery's ISO-8859-1 is not the Windows-1252 sluice decodes
/// Latin-1 files as; whole-file compression of Parquet, Avro and ORC is not theirs.)
pub(super) fn source_fields(source: &DirectSource) -> Option<Value> {
    if !source.uri.starts_with("gs://") {
        return None;
    }
    let name = source.uri.rsplit('/').next().unwrap_or_default();
    let (compression, inner) = Compression::of(name);
    let gzip_or_plain = matches!(compression, Compression::None | Compression::Gzip);
    let fields = match &source.format {
        FormatOptions::Csv(csv) if gzip_or_plain && csv.encoding.unwrap_or_default().is_utf8() => {
            json!({
                "sourceFormat": "CSV",
                "encoding": "UTF-8",
                "fieldDelimiter": csv.delimiter.unwrap_or(',').to_string(),
                "quote": csv.quote.unwrap_or('"').to_string(),
                "skipLeadingRows": u32::from(csv.has_header.unwrap_or(true)),
                "allowQuotedNewlines": true,
            })
        }
        FormatOptions::Json(_) if gzip_or_plain && is_jsonl(inner) => {
            json!({"sourceFormat": "NEWLINE_DELIMITED_JSON"})
        }
        FormatOptions::Parquet(_) if compression.is_none() => json!({"sourceFormat": "PARQUET"}),
        FormatOptions::Avro(_) if compression.is_none() => {
            json!({"sourceFormat": "AVRO", "useAvroLogicalTypes": true})
        }
        FormatOptions::Orc(_) if compression.is_none() => json!({"sourceFormat": "ORC"}),
        _ => return None,
    };
    let mut fields = fields;
    fields["sourceUris"] = json!([source.uri]);
    Some(fields)
}

/// Newline-delimited JSON by its name (a `.json` file may hold one array, which BigQuery
/// does not read).
fn is_jsonl(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".jsonl") || name.ends_with(".ndjson")
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
        let Some(fields) = source_fields(source) else {
            return Err(self.error(format!(
                "{}: BigQuery does not read this file from its gs:// URI as sluice would; it streams through sluice",
                file.file_path
            )));
        };
        let job_id = self.next_attempt(table, file).await?;
        let stage = self
            .stage_table(table, &job_id, columns, &file.file_path)
            .await?;
        let stage_job = format!("{job_id}_stage");
        let result = async {
            let body = self.load_job(&stage_job, &stage, LoadMode::Replace, fields);
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
            let script = self.commit_script(table, &stage, columns, mode, &Default::default());
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
    use sluice_core::format::csv::Encoding;

    #[test]
    fn push_down_takes_what_bigquery_reads_as_sluice_does() {
        use sluice_core::format::csv::CsvOptions;
        let csv = |encoding| {
            FormatOptions::Csv(CsvOptions {
                delimiter: Some(';'),
                quote: Some('\''),
                has_header: Some(false),
                encoding,
                ..Default::default()
            })
        };
        let source = |uri: &str, format| DirectSource {
            uri: uri.into(),
            format,
        };
        let fields = source_fields(&source("gs://b/x.csv", csv(Some(Encoding::UTF8)))).unwrap();
        assert_eq!(fields["sourceUris"], json!(["gs://b/x.csv"]));
        assert_eq!(
            (
                &fields["fieldDelimiter"],
                &fields["quote"],
                &fields["skipLeadingRows"]
            ),
            (&json!(";"), &json!("'"), &json!(0))
        );
        assert!(source_fields(&source("gs://b/x.csv.gz", csv(Some(Encoding::UTF8)))).is_some());
        assert!(source_fields(&source("gs://b/x.csv.zst", csv(Some(Encoding::UTF8)))).is_none());
        assert!(source_fields(&source("gs://b/x.csv", csv(Some(Encoding::LATIN1)))).is_none());
        assert!(source_fields(&source("s3://b/x.csv", csv(Some(Encoding::UTF8)))).is_none());
        let format_of = |uri: &str, format| {
            source_fields(&source(uri, format)).map(|f| f["sourceFormat"].clone())
        };
        assert_eq!(
            format_of(
                "gs://b/x.parquet",
                FormatOptions::Parquet(Default::default())
            ),
            Some(json!("PARQUET"))
        );
        assert_eq!(
            format_of("gs://b/x.avro", FormatOptions::Avro(Default::default())),
            Some(json!("AVRO"))
        );
        assert_eq!(
            format_of("gs://b/x.orc", FormatOptions::Orc(Default::default())),
            Some(json!("ORC"))
        );
        assert_eq!(
            format_of("gs://b/e.jsonl.gz", FormatOptions::Json(Default::default())),
            Some(json!("NEWLINE_DELIMITED_JSON"))
        );
        // One JSON array per file, or a compressed Parquet file: not BigQuery's.
        assert_eq!(
            format_of("gs://b/e.json", FormatOptions::Json(Default::default())),
            None
        );
        assert_eq!(
            format_of(
                "gs://b/x.parquet.gz",
                FormatOptions::Parquet(Default::default())
            ),
            None
        );
        assert_eq!(
            format_of(
                "gs://b/t.tfrecord",
                FormatOptions::Tfrecord(Default::default())
            ),
            None
        );
    }
}

//! Malformed input at scale: every file of `testdata/bad/` (its `manifest.json` says what
//! each must do), and the larger and binary cases made here, goes through detect, job
//! create and run. Each either loads exactly the rows it holds, or fails with an error that
//! names the file (and the phrase the manifest gives); nothing panics, and a file that fails
//! leaves its table and the ledger as they were.
//!
//! A file that cannot even make a job is also run by a job made from a sound file of the
//! same format, so that every bad file meets the run path.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use sluice_engine::model::{FileOutcome, LedgerStatus};
use sluice_engine::{JobRequest, Quiet, RunOptions};

use crate::Env;

#[derive(Debug, Clone, Deserialize)]
struct Expect {
    rows: Option<u64>,
    error: Option<String>,
}

fn corpus() -> Vec<(String, Vec<u8>, Expect)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bad");
    let manifest: BTreeMap<String, Expect> =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut cases: Vec<(String, Vec<u8>, Expect)> = manifest
        .into_iter()
        .map(|(name, expect)| {
            let bytes = std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, bytes, expect)
        })
        .collect();
    cases.extend(generated());
    cases
}

fn rows(err: Option<&str>, rows: Option<u64>) -> Expect {
    Expect {
        rows,
        error: err.map(str::to_string),
    }
}

/// The cases too large to keep in the repository, and the Parquet ones.
fn generated() -> Vec<(String, Vec<u8>, Expect)> {
    let mut out = Vec::new();
    let header: String = (0..100_000).map(|i| format!("c{i},")).collect();
    out.push((
        "columns_100000.csv".to_string(),
        format!("{}\n", header.trim_end_matches(',')).into_bytes(),
        rows(Some("columns"), None),
    ));
    // A field larger than a record may be (64 MiB).
    let mut huge = b"id,blob\n1,".to_vec();
    huge.resize(huge.len() + (65 << 20), b'x');
    huge.extend_from_slice(b"\n2,y\n");
    out.push((
        "field_over_the_record_limit.csv".into(),
        huge,
        rows(Some("record"), None),
    ));
    // 6 MB of integers, then a word: past the 5 MB detection sample.
    let mut late = String::from("n,label\n");
    let mut i = 0u64;
    while late.len() < 6 << 20 {
        late.push_str(&format!("{i},row\n"));
        i += 1;
    }
    let mut ragged = late.clone();
    late.push_str("not a number,row\n");
    out.push((
        "type_change_after_the_sample.csv".into(),
        late.into_bytes(),
        rows(Some("not a number"), None),
    ));
    ragged.push_str("7\n");
    out.push((
        "ragged_row_after_the_sample.csv".into(),
        ragged.into_bytes(),
        rows(Some("fields"), None),
    ));

    let good = parquet_file(&["id", "name"], 3);
    let len = good.len();
    out.push((
        "parquet_sound.parquet".into(),
        good.clone(),
        rows(None, Some(3)),
    ));
    out.push((
        "parquet_truncated_half.parquet".into(),
        good[..len / 2].to_vec(),
        rows(Some(""), None),
    ));
    out.push((
        "parquet_without_its_last_bytes.parquet".into(),
        good[..len - 4].to_vec(),
        rows(Some(""), None),
    ));
    let mut magic = good.clone();
    magic[len - 4..].copy_from_slice(b"PAR2");
    out.push((
        "parquet_bad_magic.parquet".into(),
        magic,
        rows(Some(""), None),
    ));
    let mut footer_len = good.clone();
    footer_len[len - 8..len - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    out.push((
        "parquet_footer_length_too_big.parquet".into(),
        footer_len,
        rows(Some(""), None),
    ));
    let mut garbage = b"PAR1".to_vec();
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    garbage.extend_from_slice(&100u32.to_le_bytes());
    garbage.extend_from_slice(b"PAR1");
    out.push((
        "parquet_garbage_between_magics.parquet".into(),
        garbage,
        rows(Some(""), None),
    ));
    let mut pages = good.clone();
    // Overwrite the column data after the leading magic, keeping the footer.
    for b in &mut pages[4..len / 3] {
        *b = !*b;
    }
    out.push((
        "parquet_corrupt_pages.parquet".into(),
        pages,
        rows(Some(""), None),
    ));
    out.push((
        "parquet_zero_row_groups.parquet".into(),
        parquet_file(&["id", "name"], 0),
        rows(None, Some(0)),
    ));
    out.push((
        "parquet_empty_file.parquet".into(),
        Vec::new(),
        rows(None, Some(0)),
    ));
    out.push((
        "parquet_duplicate_names.parquet".into(),
        parquet_file(&["id", "a", "a"], 2),
        rows(Some("more than one column of this name"), None),
    ));
    out.push((
        "parquet_odd_names.parquet".into(),
        parquet_file(&["id", "", "select", "x\"y", "A", "a"], 2),
        rows(None, Some(2)),
    ));
    out
}

/// A Parquet file of `rows` rows: the first column INT64, the rest strings.
fn parquet_file(names: &[&str], rows: usize) -> Vec<u8> {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let fields: Vec<Field> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Field::new(
                *n,
                if i == 0 {
                    DataType::Int64
                } else {
                    DataType::Utf8
                },
                true,
            )
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|i| {
            if i == 0 {
                Arc::new(Int64Array::from_iter_values(0..rows as i64)) as ArrayRef
            } else {
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|r| format!("v{r}")),
                )) as ArrayRef
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, Arc::clone(&schema), None).unwrap();
    if rows > 0 {
        let batch = arrow::record_batch::RecordBatch::try_new(schema, columns).unwrap();
        w.write(&batch).unwrap();
    }
    w.close().unwrap();
    out
}

/// A sound file of the same format as `name`, with two rows.
fn reference(name: &str) -> (String, Vec<u8>) {
    let ext = name.rsplit('.').next().unwrap_or("csv");
    let body = match ext {
        "jsonl" => b"{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n".to_vec(),
        "json" => b"[{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}]".to_vec(),
        "parquet" => parquet_file(&["id", "name"], 2),
        _ => b"id,name,amount\n1,a,1.5\n2,b,2.5\n".to_vec(),
    };
    (format!("reference.{ext}"), body)
}

/// What one case did wrong, if anything.
struct Check<'a> {
    env: &'a Env,
    problems: Vec<String>,
}

impl Check<'_> {
    fn fail(&mut self, name: &str, what: String) {
        self.problems.push(format!("{name}: {what}"));
    }

    /// An error's message must name the file (and hold `phrase`).
    fn named(&mut self, name: &str, stage: &str, message: &str, phrase: Option<&str>) -> bool {
        if !message.contains(name) {
            self.fail(
                name,
                format!("{stage} error does not name the file: {message}"),
            );
            return false;
        }
        if let Some(p) = phrase.filter(|p| !p.is_empty())
            && !message.contains(p)
        {
            self.fail(name, format!("{stage} error lacks '{p}': {message}"));
            return false;
        }
        true
    }

    async fn rows(&self, job: &str) -> u64 {
        self.env.engine.table_rows(job).await.unwrap_or(0)
    }

    fn write(&self, folder: &str, name: &str, bytes: &[u8], age: u64) {
        self.env
            .write_bytes(&format!("{folder}/{name}"), bytes, age);
    }

    fn request(job: &str, folder: &str, pattern: &str) -> JobRequest {
        JobRequest {
            name: job.into(),
            connection: "local".into(),
            file_path_prefix: format!("{folder}/"),
            file_pattern: pattern.into(),
            load_latest_only: false,
            table_name: Some(job.into()),
            ..JobRequest::default()
        }
    }

    async fn case(&mut self, i: usize, name: &str, bytes: &[u8], expect: &Expect) {
        let folder = format!("case_{i}");
        let job = format!("c{i}");
        self.write(&folder, name, bytes, 10);
        let phrase = expect.error.as_deref();
        let mut failed_as_expected = false;

        match self
            .env
            .engine
            .detect("local", &format!("{folder}/{name}"), None)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                let m = e.to_string();
                if expect.rows == Some(0) {
                    // Nothing to detect a schema from: said, naming the file.
                    self.named(name, "detect", &m, Some("nothing to detect"));
                } else if expect.rows.is_some() {
                    self.fail(name, format!("detect failed: {m}"));
                    return;
                } else {
                    failed_as_expected |= self.named(name, "detect", &m, phrase);
                }
            }
        }
        match self
            .env
            .engine
            .create_job(Self::request(&job, &folder, name))
            .await
        {
            Ok(_) => {
                let run = self
                    .env
                    .engine
                    .run(&job, RunOptions::default(), Arc::new(Quiet))
                    .await;
                let run = match run {
                    Ok(r) => r,
                    Err(e) => {
                        self.fail(name, format!("the run itself failed: {e}"));
                        return;
                    }
                };
                let Some(file) = run.files.iter().find(|f| f.file_path.ends_with(name)) else {
                    self.fail(name, format!("the run did not take the file: {run:?}"));
                    return;
                };
                match (expect.rows, file.outcome.is_loaded()) {
                    (Some(n), true) => {
                        if file.rows_loaded != n || self.rows(&job).await != n {
                            self.fail(
                                name,
                                format!(
                                    "loaded {} rows ({} in the table), expected {n}",
                                    file.rows_loaded,
                                    self.rows(&job).await
                                ),
                            );
                        }
                    }
                    (Some(_), false) => {
                        self.fail(name, format!("the run failed: {:?}", file.message));
                    }
                    (None, true) => {
                        self.fail(
                            name,
                            format!("loaded {} rows, expected an error", file.rows_loaded),
                        );
                    }
                    (None, false) => {
                        let m = file.message.clone().unwrap_or_default();
                        failed_as_expected |= self.named(name, "run", &m, phrase);
                        self.nothing_left(name, &job, 0).await;
                    }
                }
            }
            Err(e) => {
                let m = e.to_string();
                if expect.rows == Some(0) {
                    // A job cannot take its schema from a file without rows, but a job's
                    // run loads such a file as empty.
                    self.named(name, "job create", &m, Some("nothing to detect"));
                    self.through_a_sound_job(i, name, bytes, phrase, true, &mut failed_as_expected)
                        .await;
                    return;
                }
                if expect.rows.is_some() {
                    self.fail(name, format!("job create failed: {m}"));
                    return;
                }
                failed_as_expected |= self.named(name, "job create", &m, phrase);
                self.through_a_sound_job(i, name, bytes, phrase, false, &mut failed_as_expected)
                    .await;
            }
        }
        if expect.error.is_some() && !failed_as_expected {
            self.fail(name, "no stage failed with the expected error".into());
        }
    }

    /// A job made from a sound file of the same format runs the bad file: it fails, naming
    /// the file, and leaves the table and the ledger with the sound file's rows only.
    async fn through_a_sound_job(
        &mut self,
        i: usize,
        name: &str,
        bytes: &[u8],
        phrase: Option<&str>,
        must_load: bool,
        failed_as_expected: &mut bool,
    ) {
        let folder = format!("sound_{i}");
        let job = format!("s{i}");
        let (reference, body) = reference(name);
        self.write(&folder, &reference, &body, 30);
        let ext = name.rsplit('.').next().unwrap_or("csv");
        if let Err(e) = self
            .env
            .engine
            .create_job(Self::request(&job, &folder, &format!("*.{ext}")))
            .await
        {
            self.fail(name, format!("the sound job could not be made: {e}"));
            return;
        }
        self.write(&folder, name, bytes, 10);
        let run = match self
            .env
            .engine
            .run(&job, RunOptions::default(), Arc::new(Quiet))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.fail(name, format!("the sound job's run failed: {e}"));
                return;
            }
        };
        let Some(file) = run.files.iter().find(|f| f.file_path.ends_with(name)) else {
            self.fail(
                name,
                format!("the sound job did not take the file: {run:?}"),
            );
            return;
        };
        if must_load && !file.outcome.is_loaded() {
            self.fail(
                name,
                format!("a sound job did not load it as empty: {:?}", file.message),
            );
            return;
        }
        if file.outcome.is_loaded() {
            // Bytes a sound job reads as a file of its own kind are a load, not an error:
            // empty files, say.
            if file.rows_loaded != 0 {
                self.fail(
                    name,
                    format!("a sound job loaded {} rows of it", file.rows_loaded),
                );
            }
            return;
        }
        let m = file.message.clone().unwrap_or_default();
        *failed_as_expected |= self.named(name, "sound job's run", &m, phrase);
        if file.outcome == FileOutcome::FailedSchemaMismatch || file.outcome.is_failure() {
            self.nothing_left(name, &job, 2).await;
        }
    }

    /// After a failed file: the table holds `rows` (what loaded before) and the ledger has
    /// the file as not loaded.
    async fn nothing_left(&mut self, name: &str, job: &str, rows: u64) {
        let now = self.rows(job).await;
        if now != rows {
            self.fail(
                name,
                format!("a failed load left {now} rows, expected {rows}"),
            );
        }
        let ledger = self
            .env
            .engine
            .processed_files(job)
            .await
            .unwrap_or_default();
        if ledger
            .iter()
            .any(|p| p.file_path.ends_with(name) && p.status == LedgerStatus::Loaded)
        {
            self.fail(name, "the ledger has the failed file as loaded".into());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_file_loads_correctly_or_fails_naming_itself() {
    let env = Env::new().await;
    let cases = corpus();
    assert!(cases.len() >= 80, "{} cases", cases.len());
    let mut check = Check {
        env: &env,
        problems: Vec::new(),
    };
    for (i, (name, bytes, expect)) in cases.iter().enumerate() {
        // A panic anywhere fails the case by name, not the whole test anonymously.
        let outcome = {
            let fut = check.case(i, name, bytes, expect);
            futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(fut)).await
        };
        if outcome.is_err() {
            check.problems.push(format!("{name}: PANICKED"));
        }
    }
    assert!(
        check.problems.is_empty(),
        "{} of {} cases went wrong:\n{}",
        check.problems.len(),
        cases.len(),
        check.problems.join("\n")
    );
}

use sluice_engine::model::{FileOutcome, RunStatus};

use crate::{Env, transactions};

#[tokio::test]
async fn latest_only_loads_the_newest_file_and_all_loads_every_file() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 10), 30);
    env.write("t_2.csv", &transactions(11, 10), 20);
    env.write("t_3.csv", &transactions(21, 10), 10);
    env.engine
        .create_job(env.request("latest", "t_*.csv"))
        .await
        .unwrap();
    let mut all = env.request("all", "t_*.csv");
    all.load_latest_only = false;
    all.table_name = Some("t_all".into());
    env.engine.create_job(all).await.unwrap();

    let run = env.run("latest").await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        (run.files_seen, run.files_loaded, run.rows_loaded),
        (3, 1, 10)
    );
    assert_eq!(env.loaded_files("latest").await, vec!["t_3.csv"]);

    let run = env.run("all").await;
    assert_eq!(
        (run.files_seen, run.files_loaded, run.rows_loaded),
        (3, 3, 30)
    );
    let order: Vec<&str> = run.files.iter().map(|f| f.file_path.as_str()).collect();
    assert_eq!(order, vec!["t_1.csv", "t_2.csv", "t_3.csv"], "oldest first");
    assert_eq!(env.rows("all").await, 30);

    // `--all` on a latest-only job backfills what is left.
    let run = env.run_all("latest").await;
    assert_eq!(run.files_loaded, 2);
    assert_eq!(env.rows("latest").await, 30);
}

#[tokio::test]
async fn a_second_run_loads_nothing_and_a_new_file_is_picked_up() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 10), 30);
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    assert_eq!(env.run("tx").await.files_loaded, 1);

    let second = env.run("tx").await;
    assert_eq!(second.status, RunStatus::Succeeded);
    assert_eq!(
        (second.files_seen, second.files_loaded, second.files_skipped),
        (1, 0, 1)
    );
    assert!(second.files.is_empty());
    assert_eq!(env.rows("tx").await, 10);

    env.write("t_2.csv", &transactions(11, 7), 1);
    let third = env.run("tx").await;
    assert_eq!(third.files_loaded, 1);
    assert_eq!(third.files[0].file_path, "t_2.csv");
    assert_eq!(env.rows("tx").await, 17);

    let runs = env.engine.runs("tx", 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.rows_loaded).collect::<Vec<_>>(),
        vec![7, 0, 10],
        "newest first"
    );
}

#[tokio::test]
async fn a_changed_schema_is_refused_with_its_diff_and_nothing_loaded() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 5), 30);
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    env.run("tx").await;

    env.write(
        "t_2.csv",
        "id,amount,currency,created_at,channel\n1,abc,EUR,2024-11-19T08:00:00Z,web\n",
        1,
    );
    let run = env.run("tx").await;
    assert_eq!(run.status, RunStatus::Failed);
    let f = &run.files[0];
    assert_eq!(f.outcome, FileOutcome::FailedSchemaMismatch);
    let msg = f.message.as_deref().unwrap();
    assert!(
        msg.contains("t_2.csv: the file's columns differ from the job's schema"),
        "{msg}"
    );
    assert!(msg.contains("+ channel STRING (new in the file)"), "{msg}");
    assert!(
        msg.contains("- note STRING (missing from the file)"),
        "{msg}"
    );
    assert!(
        msg.contains("~ amount: job has FLOAT64, file has STRING"),
        "{msg}"
    );
    assert_eq!(env.rows("tx").await, 5, "nothing of the file was loaded");
    assert_eq!(
        env.loaded_files("tx").await,
        vec!["t_1.csv"],
        "the ledger is unchanged"
    );
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_skipped_and_recorded_and_the_others_go_on() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 500), 30);
    env.write("t_2.csv", &transactions(1, 3), 20);
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    req.max_file_size = Some(2000);
    env.engine.create_job(req).await.unwrap();
    let run = env.run("tx").await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        (run.files_loaded, run.files_skipped, run.files_failed),
        (1, 1, 0)
    );
    let skipped = run
        .files
        .iter()
        .find(|f| f.outcome == FileOutcome::SkippedTooLarge)
        .unwrap();
    assert_eq!(skipped.file_path, "t_1.csv");
    assert!(
        skipped
            .message
            .as_deref()
            .unwrap()
            .contains("over the job's limit of 2.0 KiB"),
        "{skipped:?}"
    );
    assert_eq!(env.rows("tx").await, 3);
    let stored = env.engine.run_details(run.id).await.unwrap();
    assert_eq!(stored.files, run.files, "per-file outcomes are kept");
}

#[tokio::test]
async fn a_bad_line_is_reported_with_its_number_and_the_file_leaves_nothing_behind() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 5), 30);
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    env.run("tx").await;

    // 110,000 good rows (past the 5 MB that detection samples, and many batches) and then
    // one bad value: the rows before it must not stay behind.
    let mut bad = transactions(100, 110_000);
    assert!(bad.len() > 5 * 1024 * 1024);
    bad.push_str("110100,not-a-number,EUR,2024-11-19T08:00:00Z,x\n");
    env.write("t_2.csv", &bad, 1);
    let run = env.run("tx").await;
    assert_eq!(run.status, RunStatus::Failed);
    let f = &run.files[0];
    assert_eq!(f.outcome, FileOutcome::FailedParse);
    let msg = f.message.as_deref().unwrap();
    assert!(
        msg.starts_with(
            "t_2.csv line 110002, column 'amount': 'not-a-number' is not a valid FLOAT64"
        ),
        "{msg}"
    );
    assert_eq!(env.rows("tx").await, 5);
    assert_eq!(env.loaded_files("tx").await, vec!["t_1.csv"]);

    // Fixed, the file loads on the next run.
    env.write("t_2.csv", &transactions(100, 110_000), 1);
    let run = env.run("tx").await;
    assert_eq!(run.files_loaded, 1);
    assert_eq!(env.rows("tx").await, 110_005);
}

#[tokio::test]
async fn replace_keeps_only_the_latest_file() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 4), 30);
    let mut req = env.request("tx", "t_*.csv");
    req.load_type = sluice_sinks::LoadMode::Replace;
    env.engine.create_job(req).await.unwrap();
    env.run("tx").await;
    assert_eq!(env.rows("tx").await, 4);
    env.write("t_2.csv", &transactions(5, 9), 1);
    env.run("tx").await;
    assert_eq!(env.rows("tx").await, 9);
}

#[tokio::test]
async fn a_modified_file_is_a_new_version() {
    let env = Env::new().await;
    let path = env.write("t.csv", &transactions(1, 4), 30);
    env.engine
        .create_job(env.request("tx", "t.csv"))
        .await
        .unwrap();
    env.run("tx").await;
    std::fs::write(&path, transactions(1, 6)).unwrap();
    let run = env.run("tx").await;
    assert_eq!(run.files_loaded, 1);
    assert_eq!(
        env.rows("tx").await,
        6,
        "reloaded: the new version's rows replace the old"
    );
}

#[tokio::test]
async fn json_and_parquet_files_load_too() {
    let env = Env::new().await;
    env.write(
        "events.jsonl",
        "{\"id\": 1, \"at\": \"2024-11-19T08:00:00+02:00\", \"tags\": [\"a\"]}\n{\"id\": 2, \"at\": null, \"tags\": {\"k\": 1}}\n",
        1,
    );
    env.engine
        .create_job(env.request("ev", "*.jsonl"))
        .await
        .unwrap();
    let run = env.run("ev").await;
    assert_eq!(run.rows_loaded, 2, "{run:?}");

    let batch = arrow::record_batch::RecordBatch::try_from_iter([
        (
            "id",
            std::sync::Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3]))
                as arrow::array::ArrayRef,
        ),
        (
            "name",
            std::sync::Arc::new(arrow::array::StringArray::from(vec!["a", "b", "c"])) as _,
        ),
    ])
    .unwrap();
    let path = env.drop_dir().join("p.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    env.engine
        .create_job(env.request("pq", "*.parquet"))
        .await
        .unwrap();
    assert_eq!(env.run("pq").await.rows_loaded, 3);
}

#[tokio::test]
async fn a_run_that_loads_nothing_and_fails_a_file_is_failed_not_partial() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 5), 30);
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    req.max_file_size = Some(1000);
    env.engine.create_job(req).await.unwrap();
    env.write(
        "t_1.csv",
        "id,amount,currency,created_at,other\n1,2.5,EUR,2024-11-19T08:00:00Z,x\n",
        30,
    );
    env.write("t_2.csv", &transactions(1, 500), 20);
    let run = env.run("tx").await;
    assert_eq!(
        (run.files_loaded, run.files_skipped, run.files_failed),
        (0, 1, 1),
        "{run:?}"
    );
    assert_eq!(run.status, RunStatus::Failed);
}

//! Files as they really arrive, on a local folder into DuckDB: a file version is its
//! content (a touch, a copy or a byte-identical redelivery is already loaded), changed
//! files follow the job's policy, arrival gates hold files back, the strategies mean what
//! they say, the plan shows it all before a run, and a person can skip, retry or forget a
//! file.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use sluice_core::storage::FileEntry;
use sluice_engine::files::FileAction;
use sluice_engine::model::{ChangedFiles, FileOutcome, JobSettings, JobUpdate, LedgerStatus, Run};
use sluice_engine::plan::{Action, Reason};
use sluice_engine::{Progress, RunOptions};
use sluice_sinks::LoadMode;

use crate::{Env, set_age};

const A: &str = "id,amount\n1,10\n2,20\n";
const A2: &str = "id,amount\n1,11\n2,21\n3,31\n";

fn outcomes(run: &Run) -> Vec<(String, FileOutcome)> {
    run.files
        .iter()
        .map(|f| (f.file_path.clone(), f.outcome))
        .collect()
}

async fn job(env: &Env, name: &str, pattern: &str, settings: JobSettings) {
    let mut req = env.request(name, pattern);
    req.load_latest_only = false;
    req.settings = settings;
    env.engine.create_job(req).await.unwrap();
}

/// The table's rows as (file, line, id) from the lineage columns, ordered.
async fn lineage(env: &Env, name: &str) -> Vec<(String, i64, i64)> {
    let table = env.engine.job_table(name).await.unwrap();
    let job = env.engine.job(name).await.unwrap();
    let batches = table.preview(&job.table_name, 1000).await.unwrap();
    let mut rows = Vec::new();
    for b in batches {
        let schema = b.schema();
        let col = |n: &str| b.column(schema.index_of(n).unwrap()).clone();
        let (file, line, id) = (col("_sluice_file"), col("_sluice_line"), col("id"));
        for i in 0..b.num_rows() {
            rows.push((
                file.as_string::<i32>().value(i).to_string(),
                line.as_primitive::<Int64Type>().value(i),
                id.as_primitive::<Int64Type>().value(i),
            ));
        }
    }
    rows.sort();
    rows
}

#[tokio::test]
async fn a_touch_a_copy_or_a_redelivery_of_the_same_bytes_is_not_loaded_again() {
    let env = Env::new().await;
    env.write("a.csv", A, 30);
    job(&env, "same", "*.csv", JobSettings::default()).await;
    assert_eq!(env.run("same").await.rows_loaded, 2);

    // A touch (or a restore from backup, or rsync without -t): new timestamp, same bytes.
    set_age(&env.drop_dir().join("a.csv"), 10);
    let run = env.run("same").await;
    assert_eq!(run.files_loaded, 0, "{:?}", run.files);
    assert_eq!(
        outcomes(&run),
        vec![("a.csv".into(), FileOutcome::SkippedSameContent)]
    );
    assert_eq!(env.rows("same").await, 2);

    // A copy under another name, and the same bytes delivered again over the original.
    std::fs::copy(
        env.drop_dir().join("a.csv"),
        env.drop_dir().join("a (1).csv"),
    )
    .unwrap();
    env.write("a.csv", A, 5);
    let run = env.run("same").await;
    assert_eq!(run.files_loaded, 0, "{:?}", run.files);
    assert_eq!(run.files.len(), 2);
    assert!(
        run.files
            .iter()
            .all(|f| f.outcome == FileOutcome::SkippedSameContent)
    );
    let copy = run
        .files
        .iter()
        .find(|f| f.file_path == "a (1).csv")
        .unwrap();
    assert!(
        copy.message.as_deref().unwrap().contains("a.csv"),
        "{copy:?}"
    );
    assert_eq!(env.rows("same").await, 2);

    // The ledger keeps each version, the repeats with the file they repeat; the next run
    // passes over them without reading them again.
    let ledger = env.engine.processed_files("same").await.unwrap();
    assert!(
        ledger
            .iter()
            .all(|p| p.content.as_deref().is_some_and(|c| c.starts_with("md5:")))
    );
    assert_eq!(
        ledger.iter().filter(|p| p.same_as.is_some()).count(),
        3,
        "{ledger:?}"
    );
    let run = env.run("same").await;
    assert!(run.files.is_empty(), "{:?}", run.files);
    assert_eq!(run.files_already_loaded, 2);
}

#[tokio::test]
async fn a_changed_file_follows_the_jobs_policy() {
    let env = Env::new().await;
    env.write("a.csv", A, 30);
    for (name, policy) in [
        ("reload", ChangedFiles::Reload),
        ("ignore", ChangedFiles::Ignore),
        ("append", ChangedFiles::Append),
        ("fail", ChangedFiles::Fail),
    ] {
        let mut req = env.request(name, "*.csv");
        req.load_latest_only = false;
        req.table_name = Some(format!("t_{name}"));
        req.settings.changed_files = policy;
        env.engine.create_job(req).await.unwrap();
        assert_eq!(env.run(name).await.rows_loaded, 2);
    }
    env.write("a.csv", A2, 10);

    // reload: the file's rows are its new content, in one transaction with its marker.
    let run = env.run("reload").await;
    assert_eq!(
        (run.files_loaded, run.rows_loaded),
        (1, 3),
        "{:?}",
        run.files
    );
    assert_eq!(env.rows("reload").await, 3);
    assert_eq!(
        lineage(&env, "reload").await,
        vec![
            ("a.csv".into(), 1, 1),
            ("a.csv".into(), 2, 2),
            ("a.csv".into(), 3, 3)
        ]
    );
    let detail = env.engine.run_details(run.id).await.unwrap();
    assert!(
        detail.log.iter().any(|l| l.message.contains("replaced")),
        "{:?}",
        detail.log
    );

    // ignore: the first version stays, the change is reported.
    let run = env.run("ignore").await;
    assert_eq!(
        outcomes(&run),
        vec![("a.csv".into(), FileOutcome::SkippedIgnoredChange)]
    );
    assert_eq!(env.rows("ignore").await, 2);

    // append: the new version's rows beside the old.
    assert_eq!(env.run("append").await.rows_loaded, 3);
    assert_eq!(env.rows("append").await, 5);

    // fail: recorded as the file's failure, the table as it was.
    let run = env.run("fail").await;
    assert_eq!(
        outcomes(&run),
        vec![("a.csv".into(), FileOutcome::FailedChanged)]
    );
    assert_eq!(env.rows("fail").await, 2);
    let failed = env.engine.processed_files("fail").await.unwrap();
    assert!(failed.iter().any(|p| p.status == LedgerStatus::Failed));

    // Reloading needs lineage: a job without it cannot ask for it.
    let mut req = env.request("nolineage", "*.csv");
    req.table_name = Some("t_nolineage".into());
    req.settings.lineage = false;
    let err = env.engine.create_job(req).await.unwrap_err().to_string();
    assert!(err.contains("lineage"), "{err}");
}

#[tokio::test]
async fn latest_only_takes_the_newest_unprocessed_file_run_after_run() {
    let env = Env::new().await;
    env.write("d1.csv", A, 30);
    env.write("d2.csv", A, 20);
    env.write("d3.csv", "id,amount\n9,9\n", 10);
    env.engine
        .create_job(env.request("latest", "d*.csv"))
        .await
        .unwrap();
    let plan = env.engine.plan("latest", None).await.unwrap();
    assert_eq!(plan.files_to_load, 1);
    assert_eq!(plan.files[0].file_path(), "d3.csv");
    assert_eq!(plan.files[1].reason, Reason::NotNewest);
    let mut order = Vec::new();
    for _ in 0..4 {
        let run = env.run("latest").await;
        order.extend(run.files.iter().map(|f| f.file_path.clone()));
    }
    // d2 and d1 hold the same bytes: d1 repeats d2, which is already loaded.
    assert_eq!(order, vec!["d3.csv", "d2.csv", "d1.csv"]);
    assert_eq!(env.rows("latest").await, 3);
}

#[tokio::test]
async fn replace_with_several_files_replaces_the_table_with_all_of_them_at_once() {
    let env = Env::new().await;
    for i in 0..4 {
        env.write(
            &format!("part-{i}.csv"),
            &format!("id,amount\n{i},1\n{}1,2\n", i + 1),
            30 - i,
        );
    }
    let mut req = env.request("export", "part-*.csv");
    req.load_latest_only = false;
    req.load_type = LoadMode::Replace;
    env.engine.create_job(req).await.unwrap();
    let run = env.run("export").await;
    assert_eq!(
        (run.files_loaded, run.rows_loaded),
        (4, 8),
        "{:?}",
        run.files
    );
    assert_eq!(env.rows("export").await, 8, "every part, not the last one");

    // The next export: two parts, one of them bad. Nothing is replaced.
    for name in ["part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv"] {
        std::fs::remove_file(env.drop_dir().join(name)).unwrap();
    }
    env.write("part-5.csv", "id,amount\n5,1\n", 5);
    env.write("part-6.csv", "id,amount\nsix,1\n", 4);
    let run = env.run("export").await;
    assert_eq!(run.files_loaded, 0, "{:?}", run.files);
    let by: std::collections::HashMap<_, _> = outcomes(&run).into_iter().collect();
    assert!(by["part-6.csv"].is_failure(), "{by:?}");
    assert_eq!(by["part-5.csv"], FileOutcome::SkippedWithOthers);
    assert_eq!(env.rows("export").await, 8, "the table as it was");

    // Fixed: both replace the table together.
    env.write("part-6.csv", "id,amount\n6,1\n", 3);
    let run = env.run("export").await;
    assert_eq!(
        (run.files_loaded, run.rows_loaded),
        (2, 2),
        "{:?}",
        run.files
    );
    assert_eq!(env.rows("export").await, 2);
}

#[tokio::test]
async fn files_wait_for_their_settle_time_and_their_folders_ready_marker() {
    let env = Env::new().await;
    env.write("out/a/part-0.csv", A, 0);
    env.write("out/b/part-0.csv", A2, 30);
    let settings = JobSettings {
        settle_time_seconds: 600,
        ..JobSettings::default()
    };
    job(&env, "settle", "part-*.csv", settings).await;
    let run = env.run("settle").await;
    let by: std::collections::HashMap<_, _> = outcomes(&run).into_iter().collect();
    assert_eq!(by["out/a/part-0.csv"], FileOutcome::Waiting);
    assert_eq!(by["out/b/part-0.csv"], FileOutcome::Loaded);
    let waiting = run
        .files
        .iter()
        .find(|f| f.outcome == FileOutcome::Waiting)
        .unwrap();
    assert!(
        waiting.message.as_deref().unwrap().contains("not settled"),
        "{waiting:?}"
    );
    assert_eq!(run.files_failed, 0);

    let settings = JobSettings {
        ready_marker: Some("_SUCCESS".into()),
        ..JobSettings::default()
    };
    let mut req = env.request("marker", "*");
    req.file_path_prefix = "out".into();
    req.load_latest_only = false;
    req.table_name = Some("t_marker".into());
    req.settings = settings;
    req.format = Some(sluice_core::format::FormatOptions::for_file(None, "x.csv").unwrap());
    env.engine.create_job(req).await.unwrap();
    let plan = env.engine.plan("marker", None).await.unwrap();
    assert_eq!(plan.files_to_load, 0);
    assert!(
        plan.files
            .iter()
            .all(|p| matches!(p.reason, Reason::NoMarker { .. }))
    );
    env.write("out/b/_SUCCESS", "", 1);
    let run = env.run("marker").await;
    let by: std::collections::HashMap<_, _> = outcomes(&run).into_iter().collect();
    assert_eq!(by["out/b/part-0.csv"], FileOutcome::Loaded);
    assert_eq!(by["out/a/part-0.csv"], FileOutcome::Waiting);
    assert!(
        !by.contains_key("out/b/_SUCCESS"),
        "the marker is not loaded"
    );
    assert_eq!(env.rows("marker").await, 3);
}

#[tokio::test]
async fn the_plan_says_what_the_next_run_does_and_why_without_loading() {
    let env = Env::new().await;
    env.write("t_1.csv", A, 40);
    job(&env, "plan", "t_*.csv", JobSettings::default()).await;
    env.run("plan").await;
    env.write("t_2.csv", "id,amount,extra\n1,2,3\n", 30);
    env.write("t_3.csv", A2, 20);
    env.write("t_1.csv", A2, 10);
    let plan = env.engine.plan("plan", None).await.unwrap();
    let by: std::collections::HashMap<_, _> = plan
        .files
        .iter()
        .map(|p| (p.file_path(), (p.action, p.reason.clone())))
        .collect();
    assert_eq!(
        by["t_1.csv"],
        (
            Action::Load,
            Reason::Changed {
                policy: ChangedFiles::Reload
            }
        )
    );
    assert_eq!(by["t_3.csv"], (Action::Load, Reason::New));
    let extra = plan
        .schema
        .iter()
        .find(|s| s.file_path == "t_2.csv")
        .unwrap();
    assert!(!extra.matches);
    assert_eq!(extra.diff.as_ref().unwrap().added[0].name, "extra");
    // Nothing was loaded to find out.
    assert_eq!(env.rows("plan").await, 2);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["files"][0]["action"], "load");
    assert!(
        json["files"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("changed")
    );
}

#[tokio::test]
async fn a_person_skips_retries_and_forgets_files() {
    let env = Env::new().await;
    env.write("a.csv", A, 30);
    env.write("b.csv", "id,amount\nx,1\n", 40);
    job(&env, "hands", "*.csv", JobSettings::default()).await;
    let run = env.run("hands").await;
    assert_eq!(run.files_failed, 1);

    // Skip the failing file: runs pass over it.
    let done = env
        .engine
        .file_action("hands", "b.csv", FileAction::Skip, false)
        .await
        .unwrap();
    assert!(done.message.contains("skipped"), "{}", done.message);
    assert!(env.run("hands").await.files.is_empty());
    let plan = env.engine.plan("hands", None).await.unwrap();
    assert!(plan.files.iter().any(|p| p.reason == Reason::Skipped));

    // Retry: taken again (and failing again, as it is still bad).
    env.engine
        .file_action("hands", "b.csv", FileAction::Retry, false)
        .await
        .unwrap();
    assert_eq!(env.run("hands").await.files_failed, 1);

    // Forget a loaded file with its rows: they go, and the next run loads it again.
    let done = env
        .engine
        .file_action("hands", "a.csv", FileAction::Forget, true)
        .await
        .unwrap();
    assert_eq!(done.rows_deleted, Some(2));
    assert_eq!(env.rows("hands").await, 0);
    let run = env.run("hands").await;
    assert_eq!(run.rows_loaded, 2, "{:?}", run.files);
    assert_eq!(env.rows("hands").await, 2);

    // Nothing to act on: a clear error.
    let err = env
        .engine
        .file_action("hands", "nope.csv", FileAction::Forget, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.csv"), "{err}");
}

#[tokio::test]
async fn a_job_changes_after_creation_with_its_history_and_a_plan_first() {
    let env = Env::new().await;
    env.write("a_1.csv", A, 30);
    env.write("b_1.csv", A2, 20);
    env.engine
        .create_job(env.request("edit", "a_*.csv"))
        .await
        .unwrap();
    env.run("edit").await;
    let update = JobUpdate {
        file_pattern: Some("*_1.csv".into()),
        settle_time_seconds: Some(60),
        changed_files: Some(ChangedFiles::Ignore),
        ..JobUpdate::default()
    };
    let preview = env
        .engine
        .preview_job_update("edit", update.clone())
        .await
        .unwrap();
    assert_eq!(preview.changes.len(), 3, "{:?}", preview.changes);
    assert_eq!(preview.files.len(), 2, "the plan under the new pattern");
    assert_eq!(
        env.engine.job("edit").await.unwrap().file_pattern,
        "a_*.csv",
        "a preview saves nothing"
    );
    let job = env.engine.update_job("edit", update).await.unwrap();
    assert_eq!(job.file_pattern, "*_1.csv");
    assert_eq!(job.settings.changed_files, ChangedFiles::Ignore);
    let history = env.engine.job_history("edit").await.unwrap();
    assert_eq!(history.len(), 1);
    let pattern = history[0]
        .changes
        .iter()
        .find(|c| c.field == "file_pattern")
        .unwrap();
    assert_eq!(
        (pattern.old.as_str(), pattern.new.as_str()),
        ("a_*.csv", "*_1.csv")
    );
    assert_eq!(env.run("edit").await.files_loaded, 1);

    // A change the job cannot take is refused by field, and nothing is saved.
    let err = env
        .engine
        .update_job(
            "edit",
            JobUpdate {
                file_pattern: Some("[".into()),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("file_pattern"), "{err}");
    assert_eq!(env.engine.job_history("edit").await.unwrap().len(), 1);
}

/// Rewrites the file as its load starts: between the listing and the read.
struct Rewrite(std::path::PathBuf);

impl Progress for Rewrite {
    fn file_started(&self, _file: &FileEntry) {
        std::fs::write(&self.0, A2).unwrap();
        set_age(&self.0, 1);
    }
}

#[tokio::test]
async fn a_file_rewritten_after_its_listing_is_not_loaded_under_the_listed_version() {
    let env = Env::new().await;
    let path = env.write("a.csv", A, 30);
    job(&env, "pinned", "*.csv", JobSettings::default()).await;
    let run = env
        .engine
        .run("pinned", RunOptions::default(), Arc::new(Rewrite(path)))
        .await
        .unwrap();
    assert_eq!(
        outcomes(&run),
        vec![("a.csv".into(), FileOutcome::SkippedChanged)]
    );
    assert_eq!(run.files_failed, 0);
    assert_eq!(env.rows("pinned").await, 0);
    // The next run takes the new version, once.
    let run = env.run("pinned").await;
    assert_eq!(run.rows_loaded, 3, "{:?}", run.files);
    let ledger = env.engine.processed_files("pinned").await.unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert!(ledger[0].is_loaded());
    assert!(
        lineage(&env, "pinned")
            .await
            .iter()
            .all(|(f, _, _)| f == "a.csv")
    );
}

#[tokio::test]
async fn a_job_made_again_over_a_kept_table_does_not_load_its_files_twice() {
    let env = Env::new().await;
    env.write("t_1.csv", A, 30);
    env.write("t_2.csv", A2, 20);
    job(&env, "tx", "t_*.csv", JobSettings::default()).await;
    assert_eq!(env.run("tx").await.rows_loaded, 5);
    env.engine.delete_job("tx", false).await.unwrap();

    // Made again with the same name and table: refused, the table's loads named.
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    let err = env.engine.create_job(req.clone()).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, sluice_engine::Error::Conflict(_))
            && message.contains("no job has")
            && message.contains("t_1.csv"),
        "{message}"
    );
    // A second job beside a live one on the same table is not refused: its loads are the
    // live job's.
    // Adopted: the files are loaded, and nothing is loaded again.
    req.existing_table = sluice_engine::jobs::ExistingTable::Adopt;
    env.engine.create_job(req.clone()).await.unwrap();
    let run = env.run("tx").await;
    assert_eq!(run.files_loaded, 0, "{:?}", run.files);
    assert_eq!(env.rows("tx").await, 5);
    assert_eq!(env.loaded_files("tx").await, vec!["t_1.csv", "t_2.csv"]);
    let mut other = env.request("tx-2", "t_*.csv");
    other.load_latest_only = false;
    other.table_name = Some("t".into());
    env.engine.create_job(other).await.unwrap();

    // Replaced: the table starts empty and every file loads once.
    env.engine.delete_job("tx", false).await.unwrap();
    env.engine.delete_job("tx-2", false).await.unwrap();
    req.existing_table = sluice_engine::jobs::ExistingTable::Replace;
    env.engine.create_job(req).await.unwrap();
    assert_eq!(env.rows("tx").await, 0);
    assert_eq!(env.run("tx").await.rows_loaded, 5);
    assert_eq!(env.rows("tx").await, 5);
}

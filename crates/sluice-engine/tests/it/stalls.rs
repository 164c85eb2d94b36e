//! Files that must not stall a job: empty and header-only files settle, a file that fails
//! the same way run after run is parked with an alert, a latest-only job moves on to the
//! newest file it can load; and a run that lost its lease stops and loads nothing twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sluice_core::storage::FileEntry;
use sluice_engine::alerts::AlertKind;
use sluice_engine::model::{FileOutcome, JobSettings, LedgerStatus, RunStatus};
use sluice_engine::{Progress, RunOptions};

use crate::{Env, transactions};

const HEADER: &str = "id,amount,currency,created_at,note\n";

/// An unterminated quote: a parse error at the same line on every run.
fn broken() -> String {
    format!(
        "{HEADER}1,3.00,EUR,2024-11-19T08:00:00Z,\"never closed\n2,4.00,EUR,2024-11-19T08:00:00Z,x\n"
    )
}

#[tokio::test]
async fn empty_and_header_only_files_settle_and_a_file_failing_the_same_way_is_parked() {
    let env = Env::new().await;
    env.write("t_4.csv", &transactions(1, 10), 10);
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    env.write("t_1.csv", "", 40);
    env.write("t_2.csv", HEADER, 30);
    env.write("t_3.csv", &broken(), 20);

    let run = env.run("tx").await;
    assert_eq!(run.status, RunStatus::PartiallyFailed);
    let by_path = |run: &sluice_engine::model::Run, p: &str| {
        run.files
            .iter()
            .find(|f| f.file_path == p)
            .unwrap_or_else(|| panic!("{p} in {:?}", run.files))
            .clone()
    };
    let empty = by_path(&run, "t_1.csv");
    assert_eq!((empty.outcome, empty.rows_loaded), (FileOutcome::Loaded, 0));
    assert!(
        empty.message.as_deref().unwrap_or("").contains("empty"),
        "{empty:?}"
    );
    let header = by_path(&run, "t_2.csv");
    assert_eq!(
        (header.outcome, header.rows_loaded),
        (FileOutcome::Loaded, 0),
        "{header:?}"
    );
    let bad = by_path(&run, "t_3.csv");
    assert_eq!(bad.outcome, FileOutcome::FailedParse);
    let message = bad.message.clone().unwrap();
    assert!(
        message.contains("t_3.csv") && message.contains("line 2"),
        "{message}"
    );
    assert_eq!(
        by_path(&run, "t_4.csv").rows_loaded,
        10,
        "later files still load"
    );
    assert_eq!(env.rows("tx").await, 10);

    // The same failure again: counted, not yet parked.
    let run = env.run("tx").await;
    assert_eq!(
        run.files.len(),
        1,
        "only the failed file is tried: {:?}",
        run.files
    );
    let again = run.files[0].message.clone().unwrap();
    assert!(
        again.contains("failed the same way 2 times in a row"),
        "{again}"
    );

    // The third time it is parked, with an alert.
    let run = env.run("tx").await;
    let parked = run.files[0].message.clone().unwrap();
    assert!(parked.contains("parked, not tried again"), "{parked}");
    let ledger = env.engine.processed_files("tx").await.unwrap();
    let entry = ledger.iter().find(|p| p.file_path == "t_3.csv").unwrap();
    assert_eq!((entry.status, entry.failures), (LedgerStatus::Parked, 3));
    let incidents = env.engine.incidents("tx").await.unwrap();
    let incident = incidents
        .iter()
        .find(|i| i.kind == AlertKind::FileParked)
        .expect("a file_parked alert");
    assert!(
        incident.summary.contains("t_3.csv is parked"),
        "{}",
        incident.summary
    );
    assert!(incident.closed_at.is_none());

    // It is no longer tried: the run succeeds and says why the file is left.
    let run = env.run("tx").await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert!(run.files.is_empty(), "{:?}", run.files);
    let run = env.engine.run_details(run.id).await.unwrap();
    assert!(
        run.log.iter().any(|l| l.message.contains("1 parked")),
        "{:?}",
        run.log
    );

    // A fixed version of the file is a new version: it loads and settles the alert.
    env.write("t_3.csv", &transactions(100, 4), 5);
    let run = env.run("tx").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 4));
    assert_eq!(env.rows("tx").await, 14);
    let incidents = env.engine.incidents("tx").await.unwrap();
    let incident = incidents
        .iter()
        .find(|i| i.kind == AlertKind::FileParked)
        .unwrap();
    assert!(incident.closed_at.is_some(), "the alert is settled");
}

#[tokio::test]
async fn a_latest_only_job_moves_on_to_the_newest_file_it_can_load() {
    let env = Env::new().await;
    env.write("t_1.csv", &transactions(1, 5), 30);
    let mut req = env.request("tx", "t_*.csv");
    req.settings = JobSettings {
        park_after_failures: 2,
        ..JobSettings::default()
    };
    env.engine.create_job(req).await.unwrap();
    env.write("t_2.csv", &broken(), 10);

    for expected in [FileOutcome::FailedParse, FileOutcome::FailedParse] {
        let run = env.run("tx").await;
        assert_eq!(run.files.len(), 1);
        assert_eq!(
            (run.files[0].file_path.as_str(), run.files[0].outcome),
            ("t_2.csv", expected)
        );
    }
    // t_2.csv is parked: the newest file that can be loaded is t_1.csv.
    let run = env.run("tx").await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(env.loaded_files("tx").await, vec!["t_1.csv"]);
    assert_eq!(env.rows("tx").await, 5);
    assert_eq!(env.run("tx").await.files_loaded, 0, "nothing left to do");
}

/// Takes the job's lease away from the run while its second file streams, after the claim
/// and before the commit (as another process does once the run's heartbeat has lapsed):
/// through a catalog of its own, from a thread of its own.
struct TakeOver {
    catalog_file: std::path::PathBuf,
    started: AtomicUsize,
    done: std::sync::atomic::AtomicBool,
}

impl Progress for TakeOver {
    fn file_started(&self, _file: &FileEntry) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    fn rows(&self, _rows: u64) {
        if self.started.load(Ordering::SeqCst) != 2 || self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        let path = self.catalog_file.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                use sluice_engine::catalog::{JobCatalog, RunCatalog};
                let catalog = sluice_engine::catalog::sqlite::SqliteCatalog::open(&path)
                    .await
                    .unwrap();
                let job = catalog.job("tx").await.unwrap();
                let running = catalog.runs(job.id, 1).await.unwrap().remove(0);
                catalog
                    .finish_run(running.id, RunStatus::Failed, 0, 0, Some("interrupted"))
                    .await
                    .unwrap();
                catalog
                    .start_run(job.id, "elsewhere:1", None, false)
                    .await
                    .unwrap();
            });
        })
        .join()
        .unwrap();
        // Long enough for a heartbeat to find out.
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_lease_stops_and_no_file_is_loaded_twice() {
    let mut env = Env::new().await;
    // (the engine's heartbeat setting is made before it is shared)
    for i in 1..=3 {
        env.write(&format!("t_{i}.csv"), &transactions(i * 10, 5), 40 - i * 10);
    }
    env.engine.set_heartbeat_every(Duration::from_millis(20));
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    let engine = &env.engine;
    let progress = Arc::new(TakeOver {
        catalog_file: engine.data_dir().join(sluice_engine::engine::CATALOG_FILE),
        started: AtomicUsize::new(0),
        done: Default::default(),
    });
    // One file at a time: the lease is taken while the second loads.
    let one_at_a_time = RunOptions {
        parallel: Some(1),
        ..Default::default()
    };
    let err = engine.run("tx", one_at_a_time, progress).await.unwrap_err();
    assert!(
        matches!(err, sluice_engine::Error::LeaseLost { .. }),
        "{err}"
    );

    // The second file committed in the destination, but the run could not record it: the
    // ledger leaves it to the run that holds the job, and the third was never started.
    let ledger = engine.processed_files("tx").await.unwrap();
    let status = |p: &str| ledger.iter().find(|f| f.file_path == p).map(|f| f.status);
    assert_eq!(status("t_1.csv"), Some(LedgerStatus::Loaded));
    assert_eq!(status("t_2.csv"), Some(LedgerStatus::Loading));
    assert_eq!(status("t_3.csv"), None);

    // The run that took over is gone too; the next run settles t_2 from the destination's
    // marker and loads t_3: every file once.
    let catalog = engine.catalog();
    let job = catalog.job("tx").await.unwrap();
    let holder = catalog.runs(job.id, 1).await.unwrap().remove(0);
    catalog
        .finish_run(holder.id, RunStatus::Failed, 0, 0, Some("interrupted"))
        .await
        .unwrap();
    let run = engine
        .run("tx", RunOptions::default(), Arc::new(sluice_engine::Quiet))
        .await
        .unwrap();
    let outcomes: Vec<(&str, FileOutcome)> = run
        .files
        .iter()
        .map(|f| (f.file_path.as_str(), f.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("t_2.csv", FileOutcome::Recovered),
            ("t_3.csv", FileOutcome::Loaded)
        ]
    );
    assert_eq!(engine.table_rows("tx").await.unwrap(), 15);
}

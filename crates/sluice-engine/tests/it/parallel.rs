//! Files loaded at once: each in a load of its own, every one exactly once, and one at a
//! time where the order of loads matters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sluice_core::storage::FileEntry;
use sluice_engine::model::RunFile;
use sluice_engine::{Progress, RunOptions};

use crate::Env;

/// Counts the files loading at the same moment, and the most there were.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Progress for InFlight {
    fn file_started(&self, _file: &FileEntry) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn file_finished(&self, _file: &RunFile) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `files` CSV files of `rows` rows each, ids unique across them.
fn write_files(env: &Env, files: usize, rows: usize) {
    for f in 0..files {
        let mut text = String::from("id,file,note\n");
        for r in 0..rows {
            text.push_str(&format!("{},{f},row {r} of file {f}\n", f * rows + r));
        }
        env.write(&format!("p_{f:02}.csv"), &text, (files - f) as u64 + 1);
    }
}

async fn run_with(env: &Env, job: &str, parallel: usize) -> (sluice_engine::model::Run, usize) {
    let progress = Arc::new(InFlight::default());
    let run = env
        .engine
        .run(
            job,
            RunOptions {
                all_files: Some(true),
                parallel: Some(parallel),
                ..Default::default()
            },
            progress.clone(),
        )
        .await
        .unwrap();
    (run, progress.most.load(Ordering::SeqCst))
}

#[tokio::test]
async fn files_load_at_once_each_exactly_once() {
    let env = Env::new().await;
    write_files(&env, 12, 5_000);
    let mut req = env.request("p", "p_*.csv");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    let (run, most) = run_with(&env, "p", 4).await;
    assert_eq!((run.files_loaded, run.rows_loaded), (12, 60_000), "{run:?}");
    assert!(
        most >= 2,
        "files loaded one at a time: at most {most} at once"
    );
    assert!(most <= 4, "more files at once than asked: {most}");
    assert_eq!(env.rows("p").await, 60_000);
    assert_eq!(env.loaded_files("p").await.len(), 12);
    // Recorded in the plan's order (oldest first), whichever finished first.
    let names: Vec<&str> = run.files.iter().map(|f| f.file_path.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names.len(), 12, "one record per file");
    assert_eq!(names, sorted, "records in the plan's order");
    // Nothing is loaded twice by another run.
    let (again, _) = run_with(&env, "p", 4).await;
    assert_eq!(again.files_loaded, 0, "{again:?}");
    assert_eq!(env.rows("p").await, 60_000);
}

#[tokio::test]
async fn a_job_that_deduplicates_loads_one_file_at_a_time() {
    let env = Env::new().await;
    write_files(&env, 4, 100);
    let mut req = env.request("p", "p_*.csv");
    req.load_latest_only = false;
    req.settings.dedup = Some(sluice_sinks::dedup::Dedup {
        key: vec!["id".into()],
        keep: sluice_sinks::dedup::Keep::First,
    });
    env.engine.create_job(req).await.unwrap();
    let (run, most) = run_with(&env, "p", 4).await;
    assert_eq!(run.files_loaded, 4, "{run:?}");
    assert_eq!(most, 1, "a deduplicating job's files load in order");
}

//! `sluice worker`: processes sharing a PostgreSQL catalog load one run's files together,
//! and a worker that dies mid-file leaves its files to the others.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::{Cli, create_job, rows, stderr, stdout, terminate};

#[test]
fn three_workers_load_a_sixty_file_run_exactly_once_though_one_dies_mid_file() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(sluice_testkit::postgres::TestDb::new("workers"));
    let url = db.url_with_password("prefer");
    let cli = Cli::new().with_env("SLUICE_CATALOG_URL", url.clone());
    for i in 0..60u64 {
        cli.write(&format!("t_{i:02}.csv"), &rows(i * 200, 200));
    }
    cli.add_local();
    cli.ok(&create_job(&[
        "--all-files",
        "--destination",
        &url,
        "--table",
        "raw.t",
    ]));

    // Every process reads each batch slowly (150 ms), so that the run's files spread over
    // them; the first worker aborts the third time it has appended a batch of a file it
    // has not committed.
    let mut workers: Vec<Child> = (0..3)
        .map(|i| {
            let mut c = cli.cmd(&["worker", "--parallel", "2"]);
            c.env("SLUICE_SLOW", "batch:150")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if i == 0 {
                c.env("SLUICE_FAULT", "mid-load:3");
            }
            c.spawn().unwrap()
        })
        .collect();
    let pids: Vec<u32> = workers.iter().map(Child::id).collect();
    // Each says so once its catalog is open.
    // (Their stdout stays open until they stop.)
    let mut said = Vec::new();
    for w in &mut workers {
        let mut out = BufReader::new(w.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with("sluice worker "), "{line}");
        said.push(out);
    }

    let run = cli
        .cmd(&["run", "tx", "--parallel", "2", "--json"])
        .env("SLUICE_SLOW", "batch:150")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the run: {}\n{}",
        stderr(&run),
        stdout(&run)
    );
    let run: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["files_loaded"], 60, "{run}");
    assert_eq!(run["files_failed"], 0, "{run}");

    // Exactly once: every row once, one marker per file, every file loaded in the ledger.
    let count = |sql: &str| rt.block_on(db.scalar(sql));
    assert_eq!(count("SELECT count(*) FROM raw.t"), 12_000);
    assert_eq!(count("SELECT count(DISTINCT id) FROM raw.t"), 12_000);
    assert_eq!(count("SELECT count(*) FROM _sluice_loads"), 60);
    let ledger = cli.ledger();
    let ledger = ledger.as_array().unwrap();
    assert_eq!(ledger.len(), 60);
    assert!(ledger.iter().all(|p| p["status"] == "loaded"), "{ledger:?}");

    // The first worker died mid-file; each of the three loaded some of the files.
    let killed = workers.remove(0);
    let killed = killed.wait_with_output().unwrap();
    assert!(!killed.status.success());
    assert!(
        stderr(&killed).contains("SLUICE_FAULT: aborting at mid-load"),
        "{}",
        stderr(&killed)
    );
    let mut by_worker: HashMap<String, u64> = HashMap::new();
    for f in run["files"].as_array().unwrap() {
        let worker = f["worker"].as_str().expect("each file names its worker");
        let pid = worker
            .split_once('@')
            .unwrap()
            .0
            .rsplit_once(':')
            .unwrap()
            .1;
        *by_worker.entry(pid.to_string()).or_default() += 1;
    }
    for pid in &pids {
        assert!(
            by_worker.get(&pid.to_string()).is_some_and(|n| *n > 0),
            "worker {pid} loaded no file: {by_worker:?}"
        );
    }
    assert_eq!(by_worker.values().sum::<u64>(), 60, "{by_worker:?}");
    let shown = cli.ok(&["runs", "show", &run["id"].to_string()]);
    assert!(
        shown.contains("an interrupted load had not committed; it will be loaded again"),
        "the dead worker's file was settled by another: {shown}"
    );

    // The others stop when asked, and a run after finds nothing new.
    for w in &workers {
        terminate(w);
    }
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("stopping after the files being loaded"),
            "{}",
            stderr(&out)
        );
    }
    drop(said);
    let again = cli.ok(&["run", "tx"]);
    assert!(again.contains("nothing new"), "{again}");
    assert_eq!(count("SELECT count(*) FROM raw.t"), 12_000);
}

#[test]
fn a_worker_needs_a_shared_catalog() {
    let cli = Cli::new();
    let out = cli.run(&["worker"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("give --catalog postgres://"),
        "{}",
        stderr(&out)
    );
    assert!(!cli.data().exists(), "nothing is made for a worker refused");
}

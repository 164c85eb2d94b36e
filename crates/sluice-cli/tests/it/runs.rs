//! Runs: each file loaded once, even when the process is killed mid-file or after a commit.

use crate::{Cli, rows, stderr, stdout};

#[test]
fn demo_loads_each_file_exactly_once() {
    let cli = Cli::new();
    let out = cli.ok(&["demo", "--rows", "400", "--days", "3"]);
    assert!(out.contains("4. First run: every file is new"), "{out}");
    assert!(
        out.contains("files: 3 seen, 3 loaded, 0 skipped, 0 failed"),
        "{out}"
    );
    assert!(
        out.contains("nothing new: 3 matching file(s), all loaded before"),
        "{out}"
    );
    assert!(
        out.contains("files: 4 seen, 1 loaded, 3 skipped, 0 failed"),
        "{out}"
    );
    assert!(
        out.contains("transactions_2024-11-18.csv  loaded, 400 rows"),
        "{out}"
    );
    assert!(
        out.contains("Table transactions now holds 1,600 rows"),
        "{out}"
    );
    assert_eq!(cli.table_rows("transactions"), 1600);
    // The demo can be run again from scratch.
    let again = cli.ok(&["demo", "--rows", "100", "--days", "2"]);
    assert!(
        again.contains("Table transactions now holds 300 rows"),
        "{again}"
    );
    let runs = cli.ok(&["runs", "demo-transactions"]);
    assert_eq!(runs.matches("succeeded").count(), 3, "{runs}");
}

#[test]
fn a_process_killed_mid_file_leaves_nothing_and_the_next_run_loads_it_once() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 30_000));
    cli.setup_job(&[]);
    // Abort after the second batch of 8192 rows has gone into the open transaction.
    let killed = cli.killed_run("mid-load:2");
    assert!(
        stderr(&killed).contains("SLUICE_FAULT: aborting at mid-load"),
        "{}",
        stderr(&killed)
    );
    assert_eq!(
        cli.table_rows("t"),
        0,
        "no row of the interrupted file is visible"
    );
    assert_eq!(
        cli.ledger()[0]["status"],
        "loading",
        "the claim is left behind"
    );

    let out = cli.ok(&["run", "tx"]);
    assert!(out.contains("t_1.csv  loaded, 30,000 rows"), "{out}");
    assert_eq!(cli.table_rows("t"), 30_000);
    assert_eq!(cli.ledger()[0]["status"], "loaded");
    let again = cli.ok(&["run", "tx"]);
    assert!(again.contains("nothing new"), "{again}");
    assert_eq!(cli.table_rows("t"), 30_000);
    // The killed run is recorded as interrupted, not left running.
    let runs: serde_json::Value = serde_json::from_str(&cli.ok(&["runs", "tx", "--json"])).unwrap();
    let killed = runs.as_array().unwrap().last().unwrap();
    assert_eq!(killed["status"], "failed", "{killed}");
    assert!(
        killed["error"].as_str().unwrap().starts_with("interrupted"),
        "{killed}"
    );
}

#[test]
fn a_process_killed_after_commit_is_recorded_and_not_loaded_twice() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 1000));
    cli.setup_job(&[]);
    // Killed after the commit and before the file's hash (made beside its load) is
    // recorded.
    let out = cli
        .cmd(&["run", "tx"])
        .env("SLUICE_FAULT", "after-commit")
        .env("SLUICE_SLOW", "before-content:3000")
        .output()
        .unwrap();
    assert!(!out.status.success(), "not aborted: {}", stdout(&out));
    assert_eq!(cli.table_rows("t"), 1000);
    assert_eq!(cli.ledger()[0]["status"], "loading");
    assert!(cli.ledger()[0]["content"].is_null(), "{}", cli.ledger());

    let out = cli.ok(&["run", "tx", "--json"]);
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["files"][0]["outcome"], "recovered", "{out}");
    assert_eq!(run["rows_loaded"], 1000);
    assert_eq!(
        (
            run["files_seen"].as_u64(),
            run["files_loaded"].as_u64(),
            run["files_skipped"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{out}"
    );
    assert_eq!(cli.table_rows("t"), 1000, "exactly once");
    assert_eq!(cli.ledger()[0]["status"], "loaded");

    // The recovered file's content is known: a copy of its bytes is not loaded again.
    cli.write("t_2.csv", &rows(1, 1000));
    let out = cli.ok(&["run", "tx", "--json"]);
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["files"][0]["outcome"], "skipped_same_content", "{out}");
    assert_eq!(cli.table_rows("t"), 1000, "the copy is not loaded");
}

#[test]
fn a_run_with_a_failed_file_exits_3_and_shows_why() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 3));
    cli.setup_job(&[]);
    cli.write("t_2.csv", "id,amount,note,extra\n1,2.5,x,1\n2,oops,y,2\n");
    let out = cli.run(&["run", "tx"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("✗ t_2.csv  failed: schema mismatch"),
        "{text}"
    );
    assert!(text.contains("+ extra INT64 (new in the file)"), "{text}");
    assert!(
        text.contains("~ amount: job has FLOAT64, file has STRING"),
        "{text}"
    );
    assert!(text.contains("partially failed"), "{text}");
    assert_eq!(cli.table_rows("t"), 3);
}

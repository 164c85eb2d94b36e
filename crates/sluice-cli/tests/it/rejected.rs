//! Quarantine from the command line: `--max-rejected`, `sluice rejected` and `--replay`,
//! and a process killed mid-file (or between writing the rejected rows and committing)
//! leaving nothing in either table.

use crate::{Cli, rows, stderr};

/// 30,000 rows over several batches, three of them with an amount that is not a number.
fn with_three_bad(first: u64) -> String {
    let mut text = rows(first, 30_000);
    for bad in [100, 15_000, 29_000] {
        let good = format!("\n{},{}.5,", first + bad, (first + bad) % 1000);
        let broken = format!("\n{},oops,", first + bad);
        text = text.replacen(&good, &broken, 1);
    }
    text
}

fn quarantined_rows(cli: &Cli) -> i64 {
    let conn = duckdb::Connection::open(cli.data().join("warehouse.duckdb")).unwrap();
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 't_rejected'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if exists == 0 {
        return 0;
    }
    conn.query_row("SELECT count(*) FROM t_rejected", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_process_killed_mid_file_with_quarantine_leaves_both_tables_as_they_were() {
    let cli = Cli::new();
    cli.write("t_0.csv", &rows(1, 10));
    cli.setup_job(&["--max-rejected", "5"]);
    cli.ok(&["run", "tx"]);
    cli.write("t_1.csv", &with_three_bad(100_000));
    for fault in ["mid-load:2", "mid-quarantine:1"] {
        let killed = cli.killed_run(fault);
        assert!(
            stderr(&killed).contains("SLUICE_FAULT: aborting"),
            "{fault}: {}",
            stderr(&killed)
        );
        assert_eq!(
            cli.table_rows("t"),
            10,
            "{fault}: no row of t_1.csv is visible"
        );
        assert_eq!(
            quarantined_rows(&cli),
            0,
            "{fault}: no rejected row is visible"
        );
    }
    let out = cli.ok(&["run", "tx"]);
    assert!(
        out.contains("t_1.csv  loaded, 29,997 rows (3 row(s) rejected to t_rejected)"),
        "{out}"
    );
    assert!(out.contains("3 rejected (sluice rejected tx)"), "{out}");
    assert_eq!(
        (cli.table_rows("t"), quarantined_rows(&cli)),
        (10 + 29_997, 3)
    );
    let again = cli.ok(&["run", "tx"]);
    assert!(again.contains("nothing new"), "{again}");
    assert_eq!(quarantined_rows(&cli), 3);

    let listed = cli.ok(&["rejected", "tx"]);
    assert!(
        listed.contains("3 row(s) quarantined in t_rejected"),
        "{listed}"
    );
    assert!(
        listed.contains("t_1.csv line 102 column amount: 'oops' is not a valid FLOAT64"),
        "{listed}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["rejected", "tx", "--json"])).unwrap();
    assert_eq!(json["total"], 3);
    assert_eq!(json["counts"][0]["reason"], "value");
    assert_eq!(json["rows"][2]["line_number"], 29_002);
}

#[test]
fn rows_broken_by_a_rule_are_replayed_once_the_rule_is_fixed() {
    let cli = Cli::new();
    cli.write("t_1.csv", "id,amount,note\n1,5,a\n2,-3,b\n3,0,c\n");
    cli.setup_job(&["--max-rejected", "10%", "--rule", "positive: amount > 0"]);
    // 2 of 3 rows is more than 10%: the file fails, nothing loaded.
    let failed = cli.run(&["run", "tx"]);
    assert_eq!(failed.status.code(), Some(3));
    assert!(
        crate::stdout(&failed).contains("--max-rejected N or N%"),
        "{}",
        crate::stdout(&failed)
    );
    let shown = cli.ok(&["jobs", "update", "tx", "--max-rejected", "2"]);
    assert!(shown.contains("max_rejected: 10% → 2"), "{shown}");
    cli.ok(&["files", "retry", "tx", "t_1.csv"]);
    let out = cli.ok(&["run", "tx"]);
    assert!(
        out.contains("1 rows (2 row(s) rejected to t_rejected)"),
        "{out}"
    );
    let show = cli.ok(&["jobs", "show", "tx"]);
    assert!(show.contains("up to 2 per file go to t_rejected"), "{show}");

    cli.ok(&["jobs", "update", "tx", "--rule", "not_zero: amount <> 0"]);
    let replayed = cli.ok(&["rejected", "tx", "--replay"]);
    assert!(
        replayed.contains("replayed 2 quarantined row(s): 1 loaded, 1 quarantined again"),
        "{replayed}"
    );
    assert_eq!((cli.table_rows("t"), quarantined_rows(&cli)), (2, 1));
    let listed = cli.ok(&["rejected", "tx"]);
    assert!(listed.contains("not_zero"), "{listed}");
    assert!(!listed.contains("positive"), "{listed}");
}

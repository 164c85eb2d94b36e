//! Column mapping from the command line: `--rename`, `--drop` and `--set` on `jobs create`.

use crate::Cli;

#[test]
fn a_job_loads_renamed_left_out_and_derived_columns() {
    let cli = Cli::new();
    cli.write("t_1.csv", "id,amount,note\n1,5,a\n2,6,b\n");
    cli.setup_job(&[
        "--rename",
        "note=memo",
        "--drop",
        "amount",
        "--set",
        "origin = 'cli'",
    ]);
    cli.ok(&["run", "tx"]);
    let conn = duckdb::Connection::open(cli.data().join("warehouse.duckdb")).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, memo, origin FROM t ORDER BY id")
        .unwrap();
    let rows: Vec<(i64, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![(1, "a".into(), "cli".into()), (2, "b".into(), "cli".into())]
    );
    let columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'amount'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(columns, 0, "the left-out column is not in the table");
    let bad = cli.run(&[
        "jobs",
        "create",
        "t2",
        "--connection",
        "local",
        "--pattern",
        "t_*.csv",
        "--rename",
        "nope=x",
    ]);
    assert!(!bad.status.success());
    assert!(
        crate::stderr(&bad).contains("cannot rename column nope: the file has no such column"),
        "{}",
        crate::stderr(&bad)
    );
}

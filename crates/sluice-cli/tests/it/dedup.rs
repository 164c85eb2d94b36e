//! `--dedup-key` from the command line: rows with a repeated key are left out and counted,
//! the job says how it deduplicates, and `--no-dedup` stops it.

use crate::Cli;

#[test]
fn repeated_keys_are_left_out_and_the_setting_is_shown_and_removed() {
    let cli = Cli::new();
    cli.write("t_1.csv", "id,amount,note\n1,5,a\n2,6,b\n1,7,c\n");
    cli.setup_job(&["--dedup-key", "id"]);
    let out = cli.ok(&["run", "tx"]);
    assert!(
        out.contains("2 rows (1 row(s) left out as duplicates by key id (keep first))"),
        "{out}"
    );
    assert!(
        cli.ok(&["jobs", "show", "tx"])
            .contains("dedup:       key id (keep first)")
    );
    let bad = cli.run(&["jobs", "update", "tx", "--dedup-key", "nope"]);
    assert!(!bad.status.success());
    assert!(
        crate::stderr(&bad).contains("dedup key column nope is not one of the job's columns"),
        "{}",
        crate::stderr(&bad)
    );
    let changed = cli.ok(&["jobs", "update", "tx", "--no-dedup"]);
    assert!(
        changed.contains("dedup: key id (keep first) → none"),
        "{changed}"
    );
    cli.write("t_2.csv", "id,amount,note\n1,8,d\n");
    cli.ok(&["run", "tx"]);
    assert_eq!(cli.table_rows("t"), 3);
}

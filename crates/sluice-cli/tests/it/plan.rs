//! `sluice plan`, `sluice files skip|retry|forget`, the file policies of `jobs create` and
//! `jobs update` with its preview and history, as a user types them.

use crate::{Cli, rows, stderr};

#[test]
fn plan_shows_the_next_run_and_files_are_skipped_retried_and_forgotten() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 3));
    cli.setup_job(&["--settle-time", "0", "--changed-files", "reload"]);
    let plan = cli.ok(&["plan", "tx"]);
    assert!(
        plan.contains("1 to load") && plan.contains("t_1.csv") && plan.contains("new"),
        "{plan}"
    );
    cli.ok(&["run", "tx"]);
    let json: serde_json::Value = serde_json::from_str(&cli.ok(&["plan", "tx", "--json"])).unwrap();
    assert_eq!(json["files"][0]["reason"], "already_loaded", "{json}");
    assert_eq!(json["files_to_load"], 0);

    // A touch is not a new file.
    cli.write("t_1.csv", &rows(1, 3));
    let plan = cli.ok(&["plan", "tx"]);
    assert!(plan.contains("same content as t_1.csv"), "{plan}");

    let out = cli.ok(&["files", "forget", "tx", "t_1.csv", "--delete-rows"]);
    assert!(
        out.contains("forgotten") && out.contains("3 row(s) deleted"),
        "{out}"
    );
    let plan = cli.ok(&["plan", "tx"]);
    assert!(plan.contains("forgotten"), "{plan}");
    cli.ok(&["run", "tx"]);

    cli.write("t_2.csv", "id,amount\nnot-a-number,1\n");
    let out = cli.run(&["run", "tx"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = cli.ok(&["files", "skip", "tx", "t_2.csv"]);
    assert!(out.contains("skipped"), "{out}");
    assert!(cli.ok(&["plan", "tx"]).contains("skipped by a person"));
    cli.ok(&["files", "retry", "tx", "t_2.csv"]);
    let out = cli.run(&["files", "retry", "tx", "t_9.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("t_9.csv"), "{}", stderr(&out));
    // `files` still lists a connection's files.
    assert!(cli.ok(&["files", "local"]).contains("t_2.csv"));
}

#[test]
fn jobs_change_after_creation_with_a_preview_and_a_history() {
    let cli = Cli::new();
    cli.write("a_1.csv", &rows(1, 2));
    cli.write("b_1.csv", &rows(3, 2));
    cli.add_local();
    cli.ok(&[
        "jobs",
        "create",
        "tx",
        "--connection",
        "local",
        "--pattern",
        "a_*.csv",
        "--ready-marker",
        "_SUCCESS",
    ]);
    let show = cli.ok(&["jobs", "show", "tx"]);
    assert!(
        show.contains("ready when:  _SUCCESS") && show.contains("changed:     reload"),
        "{show}"
    );
    assert!(
        cli.ok(&["plan", "tx"])
            .contains("waiting for its ready marker")
    );
    let preview = cli.ok(&[
        "jobs",
        "update",
        "tx",
        "--pattern",
        "*_1.csv",
        "--ready-marker",
        "",
        "--all-files",
        "--dry-run",
    ]);
    assert!(
        preview.contains("file_pattern: a_*.csv → *_1.csv")
            && preview.contains("2 to load")
            && preview.contains("dry run"),
        "{preview}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "show", "tx", "--json"])).unwrap();
    assert_eq!(
        shown["job"]["file_pattern"], "a_*.csv",
        "a dry run saves nothing"
    );
    cli.ok(&[
        "jobs",
        "update",
        "tx",
        "--pattern",
        "*_1.csv",
        "--ready-marker",
        "",
        "--all-files",
    ]);
    let show = cli.ok(&["jobs", "show", "tx"]);
    assert!(show.contains("file_pattern: a_*.csv → *_1.csv"), "{show}");
    let run = cli.ok(&["run", "tx"]);
    assert!(
        run.contains("2 loaded") && run.contains("4 loaded"),
        "{run}"
    );
    let bad = cli.run(&["jobs", "update", "tx", "--settle-time", "ten minutes"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("30s, 10m"), "{}", stderr(&bad));
    let bad = cli.run(&[
        "jobs",
        "create",
        "t2",
        "--connection",
        "local",
        "--pattern",
        "a_*.csv",
        "--table",
        "t2",
        "--no-lineage",
        "--changed-files",
        "reload",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("lineage"), "{}", stderr(&bad));
}

#[test]
fn a_refused_files_schema_is_listed_and_approved_from_the_cli() {
    let cli = Cli::new();
    cli.write("t_1.csv", "id,amount\n1,5\n");
    cli.setup_job(&[]);
    cli.ok(&["run", "tx"]);
    cli.write("t_2.csv", "id,amount,channel\n2,7,web\n");
    let out = cli.run(&["run", "tx"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout).to_string() + &stderr(&out);
    assert!(
        shown.contains("sluice jobs schema tx --approve 2"),
        "{shown}"
    );
    assert!(
        shown.contains("(sluice jobs update JOB --schema-policy add-columns)"),
        "{shown}"
    );
    let listed = cli.ok(&["jobs", "schema", "tx"]);
    for part in [
        "version 2  proposed",
        "+ channel STRING (new in the file)",
        "table: add channel STRING",
        "version 1  accepted",
    ] {
        assert!(listed.contains(part), "{part}: {listed}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "schema", "tx", "--json"])).unwrap();
    assert_eq!(json[0]["status"], "proposed", "{json}");
    assert_eq!(json[0]["file_path"], "t_2.csv", "{json}");
    let approved = cli.ok(&["jobs", "schema", "tx", "--approve", "2"]);
    assert!(
        approved
            .contains("schema version 2 accepted (approved); table changed: add channel STRING")
            && approved.contains("1 file(s) refused for their schema load on the next run"),
        "{approved}"
    );
    let out = cli.run(&["jobs", "schema", "tx", "--approve", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("accepted already"),
        "{}",
        stderr(&out)
    );
    assert!(cli.ok(&["run", "tx"]).contains("t_2.csv"));
    // A policy set later takes the next change by itself.
    cli.ok(&["jobs", "update", "tx", "--schema-policy", "add-columns"]);
    cli.write("t_3.csv", "id,amount,channel,region\n3,8,shop,eu\n");
    let run = cli.ok(&["run", "tx"]);
    assert!(run.contains("schema version 3: add region STRING"), "{run}");
    let shown = cli.ok(&["jobs", "show", "tx"]);
    assert!(shown.contains("add-columns"), "{shown}");
    // The schema edited by hand: a column renamed, one dropped; the files keep theirs.
    let edited = cli.ok(&[
        "jobs",
        "schema",
        "tx",
        "--rename",
        "channel=sales_channel",
        "--drop",
        "region",
    ]);
    assert!(
        edited.contains(
            "schema version 4 accepted (edited); table changed: drop region, rename channel to sales_channel"
        ),
        "{edited}"
    );
    cli.write("t_4.csv", "id,amount,channel,region\n4,9,web,us\n");
    assert!(cli.ok(&["run", "tx"]).contains("t_4.csv"));
    let listed = cli.ok(&["jobs", "schema", "tx"]);
    assert!(listed.contains("version 4  accepted"), "{listed}");
    let out = cli.run(&["jobs", "schema", "tx", "--rename", "channel"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not FROM=TO"), "{}", stderr(&out));
    let out = cli.run(&["jobs", "schema", "tx", "--drop", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no column nope"), "{}", stderr(&out));
    let out = cli.run(&["jobs", "update", "tx", "--schema-policy", "sometimes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected fail, add-columns, widen or rescue"),
        "{}",
        stderr(&out)
    );
}

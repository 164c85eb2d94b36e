//! Listing and detecting files, the data generator, and errors that say what to do.

use std::path::Path;

use crate::{Cli, rows, stderr};

#[test]
fn files_lists_newest_first_and_explains_an_empty_match() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 3));
    cli.write("notes.txt", "hello");
    cli.add_local();
    let out = cli.ok(&["files", "local", "--pattern", "t_*.csv"]);
    assert!(
        out.contains("t_1.csv") && out.contains("1 matching file(s)"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["files", "local", "--json"])).unwrap();
    assert_eq!(json["count"], 2);
    let none = cli.ok(&["files", "local", "--pattern", "orders_*.csv"]);
    assert!(
        none.contains("no files matching 'orders_*.csv'")
            && none.contains("try the pattern '*.txt' (--pattern '*.txt')"),
        "{none}"
    );
    let bad = cli.run(&["files", "local", "--pattern", "t_[.csv"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("invalid file pattern 't_[.csv'"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn errors_name_the_problem_and_exit_1() {
    let cli = Cli::new();
    let out = cli.run(&["run", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no job named 'nope'"),
        "{}",
        stderr(&out)
    );
    let out = cli.run(&["connections", "add", "x", "/relative/path"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid connection URL"),
        "{}",
        stderr(&out)
    );
    let gone = cli.dir.path().join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    cli.ok(&[
        "connections",
        "add",
        "g",
        &format!("file://{}", gone.display()),
    ]);
    std::fs::remove_dir(&gone).unwrap();
    let out = cli.run(&["connections", "test", "g"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let out = cli.run(&[
        "jobs",
        "create",
        "x",
        "--connection",
        "g",
        "--pattern",
        "*.csv",
        "--schedule",
        "sometimes",
    ]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
    assert!(
        stderr(&out).contains("invalid schedule 'sometimes'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn generated_benchmark_files_are_reproducible() {
    let cli = Cli::new();
    let a = cli.dir.path().join("a.csv");
    let b = cli.dir.path().join("b.csv");
    for p in [&a, &b] {
        cli.ok(&[
            "generate-transactions",
            p.to_str().unwrap(),
            "--rows",
            "2000",
            "--seed",
            "9",
        ]);
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(std::fs::read_to_string(&a).unwrap().lines().count(), 2001);
    let _ = Path::new(&a);
}

#[test]
fn any_format_option_can_be_given_by_name_and_unknown_ones_are_named() {
    let cli = Cli::new();
    cli.write("p.txt", "a|b\n1|2\n3|4\n");
    cli.add_local();
    let out = cli.ok(&[
        "detect",
        "local",
        "p.txt",
        "--format",
        "csv",
        "-O",
        "delimiter=|",
        "--json",
    ]);
    let detected: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(detected["format_options"]["delimiter"], "|", "{out}");
    assert_eq!(detected["columns"][1]["name"], "b", "{out}");
    let bad = cli.run(&[
        "detect",
        "local",
        "p.txt",
        "--format",
        "parquet",
        "-O",
        "delimiter=|",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("invalid option delimiter"),
        "{}",
        stderr(&bad)
    );
    let unknown = cli.run(&["detect", "local", "p.txt", "--format", "xls"]);
    assert_eq!(unknown.status.code(), Some(2), "a usage error");
    assert!(
        stderr(&unknown)
            .contains("unknown format 'xls'; expected csv, parquet, json, avro, orc or tfrecord"),
        "{}",
        stderr(&unknown)
    );
}

/// The command as a user without the right to read every folder runs it: as root (which
/// reads any folder), without the capabilities that let it.
fn without_root_powers(cli: &Cli, args: &[&str]) -> std::process::Output {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut cmd = if is_root {
        let mut c = std::process::Command::new("setpriv");
        c.arg("--bounding-set=-dac_override,-dac_read_search")
            .arg(env!("CARGO_BIN_EXE_sluice"));
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
    };
    cmd.arg("--data-dir")
        .arg(cli.data())
        .args(args)
        .env_remove("SLUICE_SECRET_KEY")
        .env_remove("SLUICE_FAULT");
    cmd.output().expect("run sluice (setpriv is in util-linux)")
}

#[test]
fn a_folder_that_cannot_be_read_is_skipped_with_a_warning_and_the_rest_loads() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    std::fs::create_dir_all(cli.drop_dir().join("locked")).unwrap();
    std::fs::create_dir_all(cli.drop_dir().join("open")).unwrap();
    cli.write("locked/t_9.csv", &rows(900, 3));
    cli.write("open/t_1.csv", &rows(1, 3));
    cli.write("t_2.csv", &rows(4, 3));
    std::os::unix::fs::symlink(cli.drop_dir(), cli.drop_dir().join("open/loop")).unwrap();
    cli.setup_job(&[]);
    std::fs::set_permissions(
        cli.drop_dir().join("locked"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let listed = without_root_powers(&cli, &["files", "local", "--pattern", "t_*.csv"]);
    let restore = || {
        std::fs::set_permissions(
            cli.drop_dir().join("locked"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    };
    let run = without_root_powers(&cli, &["run", "tx"]);
    restore();
    let out = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        out.contains("warning: skipped locked: permission denied"),
        "{out}"
    );
    assert!(
        out.contains("warning: skipped open/loop: a folder link that loops"),
        "{out}"
    );
    assert!(out.contains("2 matching file(s)"), "{out}");
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(cli.table_rows("t"), 6);
    let run: serde_json::Value =
        serde_json::from_str(&cli.ok(&["runs", "show", "1", "--json"])).unwrap();
    let log = run["log"].to_string();
    assert!(log.contains("skipped locked: permission denied"), "{log}");
}

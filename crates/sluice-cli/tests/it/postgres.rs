//! Into PostgreSQL, and two processes sharing a PostgreSQL catalog.

use crate::{Cli, create_job, rows, stderr, stdout};

/// A fresh database on the test server, its URL with a password the trusting server
/// ignores, and a way to count rows in it (for tests that run the binary, not async).
struct Postgres {
    rt: tokio::runtime::Runtime,
    db: sluice_testkit::postgres::TestDb,
    url: String,
}

impl Postgres {
    fn new() -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let db = rt.block_on(sluice_testkit::postgres::TestDb::new("cli"));
        let url = db.url_with_password("prefer");
        Self { rt, db, url }
    }

    fn count(&self, sql: &str) -> i64 {
        self.rt.block_on(self.db.scalar(sql))
    }
}

#[test]
fn a_process_killed_mid_file_leaves_nothing_in_postgres_and_the_next_run_loads_it_once() {
    let pg = Postgres::new();
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 30_000));
    cli.setup_job(&["--destination", &pg.url, "--table", "raw.t"]);
    let shown = cli.ok(&["jobs", "show", "tx"]);
    assert!(
        shown.contains("destination: postgres://postgres:••••@")
            && !shown.contains(sluice_testkit::postgres::PASSWORD),
        "{shown}"
    );
    let killed = cli.killed_run("mid-load:2");
    assert!(
        stderr(&killed).contains("SLUICE_FAULT: aborting at mid-load"),
        "{}",
        stderr(&killed)
    );
    assert_eq!(
        pg.count("SELECT count(*) FROM raw.t"),
        0,
        "no row of the interrupted file is visible"
    );
    assert_eq!(pg.count("SELECT count(*) FROM _sluice_loads"), 0);
    assert_eq!(
        cli.ledger()[0]["status"],
        "loading",
        "the claim is left behind"
    );

    let out = cli.ok(&["run", "tx"]);
    assert!(out.contains("t_1.csv  loaded, 30,000 rows"), "{out}");
    assert_eq!(pg.count("SELECT count(*) FROM raw.t"), 30_000);
    let again = cli.ok(&["run", "tx"]);
    assert!(again.contains("nothing new"), "{again}");
    assert_eq!(pg.count("SELECT count(DISTINCT id) FROM raw.t"), 30_000);
}

#[test]
fn a_process_killed_after_a_postgres_commit_is_recovered_not_loaded_twice() {
    let pg = Postgres::new();
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 1000));
    cli.setup_job(&["--destination", &pg.url]);
    cli.killed_run("after-commit");
    assert_eq!(pg.count("SELECT count(*) FROM t"), 1000);
    assert_eq!(cli.ledger()[0]["status"], "loading");

    let out = cli.ok(&["run", "tx", "--json"]);
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["files"][0]["outcome"], "recovered", "{out}");
    assert_eq!(pg.count("SELECT count(*) FROM t"), 1000, "exactly once");
    assert_eq!(pg.count("SELECT count(*) FROM _sluice_loads"), 1);
    assert_eq!(cli.ledger()[0]["status"], "loaded");
}

#[test]
fn two_processes_with_their_own_data_dirs_share_a_postgres_catalog() {
    let pg = Postgres::new();
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let (a, b) = (Cli::new(), Cli::new());
    let warehouse = a.dir.path().join("shared.duckdb");
    // A names the catalog with --catalog, B with SLUICE_CATALOG_URL.
    let on_a = |args: &[&str]| {
        let mut all = vec!["--catalog", pg.url.as_str()];
        all.extend_from_slice(args);
        let out = a.cmd(&all).env("SLUICE_SECRET_KEY", key).output().unwrap();
        assert!(out.status.success(), "A {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let on_b = |args: &[&str]| {
        let out = b
            .cmd(args)
            .env("SLUICE_CATALOG_URL", &pg.url)
            .env("SLUICE_SECRET_KEY", key)
            .output()
            .unwrap();
        assert!(out.status.success(), "B {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    a.write("t_1.csv", &rows(1, 100));
    on_a(&[
        "connections",
        "add",
        "local",
        &format!("file://{}", a.drop_dir().display()),
    ]);
    on_a(&create_job(&[
        "--all-files",
        "--duckdb",
        warehouse.to_str().unwrap(),
    ]));
    // B sees A's job and runs it; A then finds nothing new: one ledger.
    assert!(on_b(&["jobs", "list"]).contains("tx"));
    let out = on_b(&["run", "tx"]);
    assert!(out.contains("t_1.csv  loaded, 100 rows"), "{out}");
    let again = on_a(&["run", "tx"]);
    assert!(again.contains("nothing new"), "{again}");
    // Run 1 was B's: A shows it from the shared catalog.
    let first: serde_json::Value =
        serde_json::from_str(&on_a(&["runs", "show", "1", "--json"])).unwrap();
    assert_eq!(first["rows_loaded"], 100, "{first}");
    assert_eq!(pg.count("SELECT count(*) FROM runs"), 2);
    assert_eq!(pg.count("SELECT count(*) FROM processed_files"), 1);
    assert!(
        !b.data().join("catalog.db").exists(),
        "no SQLite catalog beside it"
    );
    let conn = duckdb::Connection::open(&warehouse).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 100);

    let bad = a.run(&["--catalog", "mysql://u:pw@h/db", "jobs", "list"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("must start with postgres://"),
        "{}",
        stderr(&bad)
    );
    assert!(!stderr(&bad).contains(":pw@"), "{}", stderr(&bad));
}

//! The `sluice` binary, run as a user runs it, including being killed mid-load.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("drop")).unwrap();
        Self { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn drop_dir(&self) -> PathBuf {
        self.dir.path().join("drop")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env_remove("SLUICE_FAULT")
            .env_remove("SLUICE_DATA_DIR")
            .env_remove("SLUICE_SECRET_KEY");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sluice {args:?} failed: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        stdout(&out)
    }

    /// `sluice run tx` with `SLUICE_FAULT=fault`, which makes it abort at that point.
    fn killed_run(&self, fault: &str) -> Output {
        let out = self
            .cmd(&["run", "tx"])
            .env("SLUICE_FAULT", fault)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the run was not aborted: {}",
            stdout(&out)
        );
        out
    }

    fn write(&self, name: &str, content: &str) {
        std::fs::write(self.drop_dir().join(name), content).unwrap();
    }

    fn setup_job(&self, extra: &[&str]) {
        let url = format!("file://{}", self.drop_dir().display());
        self.ok(&["connections", "add", "local", &url]);
        let mut args = vec![
            "jobs",
            "create",
            "tx",
            "--connection",
            "local",
            "--pattern",
            "t_*.csv",
            "--all-files",
        ];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    fn table_rows(&self, table: &str) -> i64 {
        let conn = duckdb::Connection::open(self.data().join("warehouse.duckdb")).unwrap();
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn ledger(&self) -> serde_json::Value {
        let shown: serde_json::Value =
            serde_json::from_str(&self.ok(&["jobs", "show", "tx", "--json"])).unwrap();
        shown["processed_files"].clone()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn rows(first: u64, n: u64) -> String {
    let mut s = String::from("id,amount,note\n");
    for i in first..first + n {
        s.push_str(&format!("{i},{}.5,\"row {i}, quoted\"\n", i % 1000));
    }
    s
}

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

/// A dataset of its own on local-bigquery (`SLUICE_TEST_BIGQUERY_URL`, started by
/// `scripts/peers.sh`), as a `--destination` URL and as the config that reads it back.
fn bigquery() -> (String, sluice_sinks::bigquery::BigQueryConfig) {
    let (endpoint, project) = sluice_testkit::peers::bigquery();
    let dataset = sluice_testkit::peers::unique("cli");
    let url = format!("bigquery://{project}/{dataset}?credentials=none&endpoint={endpoint}");
    let config = sluice_sinks::bigquery::BigQueryConfig::from_url(&url).unwrap();
    (url, config)
}

fn bigquery_rows(config: &sluice_sinks::bigquery::BigQueryConfig, table: &str) -> u64 {
    use sluice_sinks::Inspect as _;
    let sink = sluice_sinks::bigquery::BigQuerySink::new(config.clone()).unwrap();
    let table = sluice_core::names::TableName::parse(table).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(sink.count_rows(&table))
        .unwrap()
}

#[test]
fn a_process_killed_mid_upload_or_after_a_bigquery_load_job_loads_each_file_once() {
    let (url, config) = bigquery();
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 30_000));
    cli.setup_job(&["--destination", &url]);
    let shown = cli.ok(&["jobs", "show", "tx"]);
    assert!(
        shown.contains(&format!(
            "destination: bigquery://{}/{} (US, no credentials, endpoint {})",
            config.project, config.dataset, config.endpoint
        )),
        "{shown}"
    );

    // Killed while the file's chunks go up: BigQuery starts no job, nothing is loaded.
    cli.killed_run("mid-load:2");
    assert_eq!(bigquery_rows(&config, "t"), 0);
    assert_eq!(cli.ledger()[0]["status"], "loading");

    // Killed after the load job committed, before the ledger knew: recovered from the job.
    cli.killed_run("after-commit");
    assert_eq!(bigquery_rows(&config, "t"), 30_000);
    let out = cli.ok(&["run", "tx", "--json"]);
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["files"][0]["outcome"], "recovered", "{out}");
    assert_eq!(bigquery_rows(&config, "t"), 30_000, "exactly once");
    assert_eq!(cli.ledger()[0]["status"], "loaded");
    let again = cli.ok(&["run", "tx"]);
    assert!(again.contains("nothing new"), "{again}");
}

#[test]
fn jobs_create_explains_a_bad_bigquery_destination() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 3));
    let url = format!("file://{}", cli.drop_dir().display());
    cli.ok(&["connections", "add", "local", &url]);
    let create = |destination: &str| {
        let out = cli.run(&[
            "jobs",
            "create",
            "tx",
            "--connection",
            "local",
            "--pattern",
            "t_*.csv",
            "--destination",
            destination,
        ]);
        assert_eq!(out.status.code(), Some(1), "{destination}");
        stderr(&out)
    };
    let err = create("bigquery://my-project");
    assert!(err.contains("names no project and dataset"), "{err}");
    let err = create("bigquery://p/raw?credentials=/nonexistent/key.json");
    assert!(
        err.contains("cannot read the service-account key /nonexistent/key.json"),
        "{err}"
    );
    let err = create("bigquery://p/raw?region=EU");
    assert!(err.contains("unknown parameter 'region'"), "{err}");
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
    on_a(&[
        "jobs",
        "create",
        "tx",
        "--connection",
        "local",
        "--pattern",
        "t_*.csv",
        "--all-files",
        "--duckdb",
        warehouse.to_str().unwrap(),
    ]);
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

#[test]
fn jobs_create_refuses_an_unknown_destination_without_echoing_its_password() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 3));
    let url = format!("file://{}", cli.drop_dir().display());
    cli.ok(&["connections", "add", "local", &url]);
    let out = cli.run(&[
        "jobs",
        "create",
        "tx",
        "--connection",
        "local",
        "--pattern",
        "t_*.csv",
        "--destination",
        "mysql://u:topsecret@h/db",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unknown destination 'mysql://u:••••@h/db'") && !err.contains("topsecret"),
        "{err}"
    );
}

#[test]
fn a_process_killed_after_commit_is_recorded_and_not_loaded_twice() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 1000));
    cli.setup_job(&[]);
    cli.killed_run("after-commit");
    assert_eq!(cli.table_rows("t"), 1000);
    assert_eq!(cli.ledger()[0]["status"], "loading");

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
}

#[test]
fn files_lists_newest_first_and_explains_an_empty_match() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 3));
    cli.write("notes.txt", "hello");
    let url = format!("file://{}", cli.drop_dir().display());
    cli.ok(&["connections", "add", "local", &url]);
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
        none.contains("no files matching 'orders_*.csv'") && none.contains("try --pattern"),
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
fn a_detected_schema_can_be_edited_and_used_for_a_job() {
    let cli = Cli::new();
    cli.write("t_1.csv", "id,zip,amount\n1,00501,2.5\n2,10001,3\n");
    let url = format!("file://{}", cli.drop_dir().display());
    cli.ok(&["connections", "add", "local", &url]);
    let detected = cli.ok(&["detect", "local", "t_1.csv", "--json"]);
    let mut schema: serde_json::Value = serde_json::from_str(&detected).unwrap();
    assert_eq!(
        schema["columns"][1]["bigquery_type"], "STRING",
        "leading zeros stay text"
    );
    assert_eq!(schema["columns"][2]["bigquery_type"], "FLOAT64");
    assert_eq!(
        schema["columns"][1]["sample_values"],
        serde_json::json!(["00501", "10001"])
    );
    schema["columns"][2]["bigquery_type"] = "NUMERIC".into();
    let edited = cli.dir.path().join("schema.json");
    std::fs::write(&edited, schema.to_string()).unwrap();
    cli.ok(&[
        "jobs",
        "create",
        "tx",
        "--connection",
        "local",
        "--pattern",
        "t_*.csv",
        "--schema-file",
        edited.to_str().unwrap(),
    ]);
    let job: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "show", "tx", "--json"])).unwrap();
    assert_eq!(job["job"]["schema"][2]["bigquery_type"], "NUMERIC");
    assert_eq!(job["job"]["table_name"], "t");
    cli.ok(&["run", "tx"]);
    let conn = duckdb::Connection::open(cli.data().join("warehouse.duckdb")).unwrap();
    let total: String = conn
        .query_row("SELECT sum(amount)::VARCHAR FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, "5.500000000");
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
fn credentials_never_show_and_rotate_with_a_command() {
    let cli = Cli::new();
    let secret = cli.dir.path().join("aws-secret");
    std::fs::write(&secret, "wJalrXUtnFEMI-SECRET\n").unwrap();
    let opt = format!("secret_access_key=@{}", secret.display());
    cli.ok(&[
        "connections",
        "add",
        "prod",
        "s3://acme-drops/landing",
        "-o",
        "region=eu-west-1",
        "-o",
        "access_key_id=AKIAEXAMPLE",
        "-o",
        &opt,
    ]);
    for args in [
        &["connections", "list"][..],
        &["connections", "show", "prod", "--json"][..],
    ] {
        let out = cli.ok(args);
        assert!(!out.contains("wJalr"), "{out}");
        assert!(out.contains("••••") && out.contains("AKIAEXAMPLE"), "{out}");
    }
    let catalog = std::fs::read(cli.data().join("catalog.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&catalog).contains("wJalr"),
        "the catalog holds no plain secret"
    );
    let key_before = std::fs::read_to_string(cli.data().join("secret.key")).unwrap();
    let out = cli.ok(&["connections", "rotate-key"]);
    assert!(
        out.contains("re-sealed the credentials of 1 connection(s)"),
        "{out}"
    );
    assert_ne!(
        std::fs::read_to_string(cli.data().join("secret.key")).unwrap(),
        key_before
    );
    // A wrong key is an error naming the connection, not garbage.
    let out = cli
        .cmd(&["files", "prod"])
        .env(
            "SLUICE_SECRET_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot open the secret_access_key of connection 'prod'"),
        "{}",
        stderr(&out)
    );
}

/// Sends SIGTERM to a child process.
fn terminate(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigterm_lets_the_file_being_loaded_finish_and_leaves_the_rest_for_the_next_run() {
    let cli = Cli::new();
    // Three files of 40,000 rows, read slowly (5 batches of 8,192 rows, 300 ms each).
    for (i, name) in ["t_1.csv", "t_2.csv", "t_3.csv"].iter().enumerate() {
        cli.write(name, &rows(i as u64 * 40_000, 40_000));
    }
    cli.setup_job(&[]);
    let child = cli
        .cmd(&["run", "tx"])
        .env("SLUICE_SLOW", "batch:300")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first file is claimed (being loaded), then ask the process to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ledger = cli.ledger();
        if ledger
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["status"] == "loading")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no file started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a graceful stop is not a failure: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("stopping after the file being loaded"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("stopped by a shutdown: 2 file(s) left for the next run"),
        "{}",
        stdout(&out)
    );
    // The file in flight finished: whole, committed and recorded; nothing else started.
    assert_eq!(cli.table_rows("t"), 40_000);
    let ledger = cli.ledger();
    let ledger = ledger.as_array().unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0]["status"], "loaded");

    // `runs show` has the run's files and its log.
    let shown = cli.ok(&["runs", "show", "1"]);
    assert!(shown.contains("log:"), "{shown}");
    assert!(shown.contains("started by hand"), "{shown}");
    assert!(
        shown.contains("listed 3 file(s) matching 't_*.csv'"),
        "{shown}"
    );
    assert!(shown.contains("loaded, 40000 rows"), "{shown}");
    assert!(shown.contains("stopped by a shutdown"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["runs", "show", "1", "--json"])).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert!(json["log"].as_array().unwrap().len() >= 3, "{json}");

    // The next run takes the two files left, once.
    let next = cli.ok(&["run", "tx"]);
    assert!(
        next.contains("3 seen, 2 loaded, 1 skipped, 0 failed"),
        "{next}"
    );
    assert_eq!(cli.table_rows("t"), 120_000);
    let err = cli.run(&["runs", "show", "99"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(stderr(&err).contains("no run 99"), "{}", stderr(&err));
}

#[test]
fn jobs_can_be_rescheduled_paused_and_resumed() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(0, 10));
    cli.setup_job(&["--schedule", "daily@02:00", "--timezone", "Europe/Berlin"]);
    let listed = cli.ok(&["jobs", "list"]);
    assert!(listed.contains("daily@02:00 Europe/Berlin"), "{listed}");
    let paused = cli.ok(&["jobs", "pause", "tx"]);
    assert!(paused.contains("paused job 'tx'"), "{paused}");
    let job: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "show", "tx", "--json"])).unwrap();
    assert_eq!(job["job"]["paused"], true);
    assert!(cli.ok(&["jobs", "list"]).contains("(paused)"));
    let resumed = cli.ok(&["jobs", "resume", "tx"]);
    assert!(resumed.contains("resumed job 'tx'; next run"), "{resumed}");
    let updated = cli.ok(&[
        "jobs",
        "update",
        "tx",
        "--schedule",
        "hourly@30",
        "--alert-slack",
        "https://hooks.example.com/services/T0/B0/secret",
        "--freshness-hours",
        "26",
    ]);
    assert!(updated.contains("hourly@30 Europe/Berlin"), "{updated}");
    assert!(
        updated.contains("webhook https://hooks.example.com/•••• (slack)"),
        "{updated}"
    );
    assert!(!updated.contains("secret"), "{updated}");
    assert!(updated.contains("alert after 26 hours"), "{updated}");
    let bad = cli.run(&["jobs", "update", "tx", "--timezone", "Mars/Olympus"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("unknown timezone 'Mars/Olympus'"),
        "{}",
        stderr(&bad)
    );
    assert!(
        cli.ok(&["jobs", "alerts", "tx"])
            .contains("no alerts raised")
    );
}

#[test]
fn serve_on_sigterm_lets_a_run_finish_its_file_then_stops() {
    use std::io::{BufRead, Read, Write};
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(0, 40_000));
    cli.write("t_2.csv", &rows(40_000, 40_000));
    cli.setup_job(&[]);
    let mut child = cli
        .cmd(&["serve", "--bind", "127.0.0.1:0"])
        .env("SLUICE_SLOW", "batch:300")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .strip_prefix("sluice API on http://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    // Run now, through the API.
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /api/jobs/tx/run HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cli
        .ledger()
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["status"] == "loading")
    {
        assert!(std::time::Instant::now() < deadline, "no file started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The file in flight was finished and recorded; the other waits for the next run.
    assert_eq!(cli.table_rows("t"), 40_000);
    let run: serde_json::Value =
        serde_json::from_str(&cli.ok(&["runs", "show", "1", "--json"])).unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["files_loaded"], 1);
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("1 file(s) left for the next run"),
        "{run}"
    );
    assert!(cli.ok(&["run", "tx"]).contains("2 seen, 1 loaded"));
    assert_eq!(cli.table_rows("t"), 80_000);
}

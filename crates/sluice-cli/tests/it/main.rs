//! The `sluice` binary, run as a user runs it, including being killed mid-load.

use std::path::PathBuf;
use std::process::{Command, Output};

mod bigquery;
mod connections;
mod dedup;
mod files;
mod jobs;
mod large;
mod mapping;
mod plan;
mod postgres;
mod rejected;
mod runs;
mod signals;
mod workers;

struct Cli {
    dir: tempfile::TempDir,
    /// Environment every command gets, as the operator would set it.
    env: Vec<(&'static str, String)>,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("drop")).unwrap();
        Self {
            dir,
            env: Vec::new(),
        }
    }

    /// Every command gets `name=value`.
    fn with_env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
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
            .env_remove("SLUICE_SECRET_KEY")
            .env_remove("SLUICE_BIGQUERY_ENDPOINT")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
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

    /// `sluice connections add local file://…/drop`.
    fn add_local(&self) {
        let url = format!("file://{}", self.drop_dir().display());
        self.ok(&["connections", "add", "local", &url]);
    }

    /// Adds the local connection and a job `tx` over `t_*.csv` taking all files.
    fn setup_job(&self, extra: &[&str]) {
        self.add_local();
        let mut more = vec!["--all-files"];
        more.extend_from_slice(extra);
        self.ok(&create_job(&more));
    }
}

/// `jobs create tx --connection local --pattern 't_*.csv'`, then `extra`.
fn create_job<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "jobs",
        "create",
        "tx",
        "--connection",
        "local",
        "--pattern",
        "t_*.csv",
    ];
    args.extend_from_slice(extra);
    args
}

impl Cli {
    /// A connection `name` to `prefix` in the S3 test server's bucket, with moto's keys.
    fn add_s3(&self, name: &str, prefix: &str) {
        let endpoint = sluice_testkit::peers::var("SLUICE_S3_ENDPOINT");
        let bucket = sluice_testkit::peers::var("SLUICE_TEST_BUCKET");
        self.ok(&[
            "connections",
            "add",
            name,
            &format!("s3://{bucket}/{prefix}"),
            "-o",
            &format!("endpoint={endpoint}"),
            "-o",
            "allow_http=true",
            "-o",
            "path_style=true",
            "-o",
            "region=us-east-1",
            "-o",
            "access_key_id=testing",
            "-o",
            "secret_access_key=testing",
        ]);
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

/// Sends SIGTERM to a child process.
fn terminate(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
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

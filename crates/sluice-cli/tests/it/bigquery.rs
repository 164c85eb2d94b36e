//! Into BigQuery (local-bigquery): killed mid-upload and after a load job, and bad destination URLs.

use crate::{Cli, create_job, rows, stderr};

/// A dataset of its own on local-bigquery (`SLUICE_TEST_BIGQUERY_URL`, started by
/// `scripts/peers.sh`), as a `--destination` URL and as the config that reads it back.
fn bigquery() -> (String, sluice_sinks::bigquery::BigQueryConfig) {
    let (endpoint, project) = sluice_testkit::peers::bigquery();
    let dataset = sluice_testkit::peers::unique("cli");
    let url = format!("bigquery://{project}/{dataset}?credentials=none");
    let mut config = sluice_sinks::bigquery::BigQueryConfig::from_url(&url).unwrap();
    config.endpoint = endpoint;
    (url, config)
}

/// A CLI whose commands reach local-bigquery, as the operator points sluice at it.
fn cli_at(config: &sluice_sinks::bigquery::BigQueryConfig) -> Cli {
    Cli::new().with_env(
        sluice_sinks::bigquery::ENDPOINT_ENV,
        config.endpoint.clone(),
    )
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
    let cli = cli_at(&config);
    cli.write("t_1.csv", &rows(1, 30_000));
    cli.setup_job(&["--destination", &url]);
    let shown = cli.ok(&["jobs", "show", "tx"]);
    assert!(
        shown.contains(&format!(
            "destination: bigquery://{}/{} (US, no credentials)",
            config.project, config.dataset
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
    cli.add_local();
    let create = |destination: &str| {
        let out = cli.run(&create_job(&["--destination", destination]));
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
    // The API's endpoint is the operator's setting, not a destination's.
    let err = create("bigquery://p/raw?endpoint=http://collector.example");
    assert!(err.contains("SLUICE_BIGQUERY_ENDPOINT"), "{err}");
}

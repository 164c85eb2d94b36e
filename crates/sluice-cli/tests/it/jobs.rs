//! Jobs: creating with a reviewed schema or a destination, rescheduling, pausing.

use crate::{Cli, create_job, rows, stderr};

#[test]
fn jobs_create_refuses_an_unknown_destination_without_echoing_its_password() {
    let cli = Cli::new();
    cli.write("t_1.csv", &rows(1, 3));
    cli.add_local();
    let out = cli.run(&create_job(&["--destination", "mysql://u:topsecret@h/db"]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unknown destination 'mysql://u:••••@h/db'") && !err.contains("topsecret"),
        "{err}"
    );
}

#[test]
fn a_detected_schema_can_be_edited_and_used_for_a_job() {
    let cli = Cli::new();
    cli.write("t_1.csv", "id,zip,amount\n1,00501,2.5\n2,10001,3\n");
    cli.add_local();
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
    cli.ok(&create_job(&["--schema-file", edited.to_str().unwrap()]));
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

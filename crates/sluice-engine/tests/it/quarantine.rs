//! Quarantine through runs, on every destination: a file's bad rows go to
//! `<table>_rejected` with their line, column, raw values and error while its good rows
//! load; past the job's limit the whole file fails and neither table changes.

use sluice_engine::engine::SchemaEdit;
use sluice_engine::model::MaxRejected;
use sluice_sinks::SinkConfig;

use crate::Env;
use crate::evolution::rows;

/// 10,000 records; record 17's amount, record 4,000's day and record 9,999's id do not fit
/// their columns.
fn ten_thousand() -> String {
    let mut text = String::from("id,amount,day\n");
    for i in 1..=10_000 {
        let row = match i {
            17 => format!("{i},12x,2024-01-01\n"),
            4000 => format!("{i},4.5,2024-13-45\n"),
            9999 => "x9999,1,2024-01-02\n".to_string(),
            _ => format!("{i},{}.25,2024-01-0{}\n", i % 100, 1 + i % 9),
        };
        text.push_str(&row);
    }
    text
}

async fn job(
    env: &Env,
    destination: SinkConfig,
    pattern: &str,
    max_rejected: &str,
    rules: &[&str],
) -> sluice_engine::Result<sluice_engine::model::Job> {
    if let SinkConfig::BigQuery(c) = &destination {
        env.engine
            .set_bigquery_endpoint(Some(c.endpoint.clone()))
            .unwrap();
    }
    let mut req = env.request("q", pattern);
    req.load_latest_only = false;
    req.table_name = Some("q".into());
    req.destination = destination;
    req.settings.max_rejected = max_rejected.parse::<MaxRejected>().unwrap();
    req.settings.row_rules.rules = rules.iter().map(|r| r.parse().unwrap()).collect();
    env.engine.create_job(req).await
}

async fn three_bad_rows_are_quarantined(destination: SinkConfig) {
    let env = Env::new().await;
    // The newest file has good rows only: detection types the columns from it.
    env.write("q_0.csv", "id,amount,day\n0,1.5,2024-01-01\n", 1);
    env.write("q_1.csv", &ten_thousand(), 2);
    job(&env, destination, "q_*.csv", "5", &[]).await.unwrap();
    let run = env.run_all("q").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (2, 9_998), "{run:?}");
    assert_eq!(run.rows_rejected, 3);
    let file = run.files.iter().find(|f| f.file_path == "q_1.csv").unwrap();
    assert_eq!((file.rows_loaded, file.rows_rejected), (9_997, 3));
    let note = file.message.clone().unwrap_or_default();
    assert!(note.contains("3 row(s) rejected to q_rejected"), "{note}");
    assert_eq!(env.rows("q").await, 9_998);

    let rejected = env.engine.rejected("q").await.unwrap();
    assert_eq!((rejected.table.as_str(), rejected.total), ("q_rejected", 3));
    let found: Vec<(u64, Option<u64>, Option<&str>)> = rejected
        .rows
        .iter()
        .map(|r| (r.record_number, r.line_number, r.column_name.as_deref()))
        .collect();
    assert_eq!(
        found,
        vec![
            (17, Some(18), Some("amount")),
            (4000, Some(4001), Some("day")),
            (9999, Some(10_000), Some("id")),
        ]
    );
    assert_eq!(
        rejected.rows[0].raw_text,
        r#"{"id":"17","amount":"12x","day":"2024-01-01"}"#
    );
    assert!(
        rejected.rows[0]
            .error_message
            .contains("'12x' is not a valid FLOAT64"),
        "{}",
        rejected.rows[0].error_message
    );
    assert_eq!(rejected.counts.len(), 1);
    assert_eq!(rejected.counts[0].rows, 3);
    // The good rows keep their record numbers in the lineage column.
    let lines = rows(&env, "q", &["id", "_sluice_line"]).await;
    assert!(
        lines.iter().all(|r| r[0] == r[1] || r[0] == "0"),
        "{lines:?}"
    );
}

on_every_destination!("quarantine"; three_bad_rows_are_quarantined, replay_after_fixing_the_rule);

/// Past the limit (a count, or a share of the file's records) the file fails as a whole:
/// neither the table nor the quarantine table holds any of it, and the error names the
/// first bad row and the setting.
#[tokio::test]
async fn more_bad_rows_than_allowed_fail_the_file_and_leave_both_tables() {
    for limit in ["2", "0.02%"] {
        let env = Env::new().await;
        env.write("q_0.csv", "id,amount,day\n0,1.5,2024-01-01\n", 1);
        env.write("q_1.csv", &ten_thousand(), 2);
        job(&env, SinkConfig::default(), "q_*.csv", limit, &[])
            .await
            .unwrap();
        let run = env.run_all("q").await;
        assert_eq!(
            (run.files_loaded, run.files_failed),
            (1, 1),
            "{limit}: {run:?}"
        );
        let failed = run.files.iter().find(|f| f.file_path == "q_1.csv").unwrap();
        let message = failed.message.clone().unwrap_or_default();
        assert!(
            message.contains("3 row(s) rejected, more than the job allows")
                && message.contains("line 18")
                && message.contains("nothing of the file was loaded"),
            "{limit}: {message}"
        );
        assert_eq!(
            failed.hint.as_ref().and_then(|h| h.field.as_deref()),
            Some("max_rejected")
        );
        assert_eq!(env.rows("q").await, 1);
        assert_eq!(env.engine.rejected("q").await.unwrap().total, 0);
    }
    // 0.03% of 10,000 records is 3: the file loads.
    let env = Env::new().await;
    env.write("q_0.csv", "id,amount,day\n0,1.5,2024-01-01\n", 1);
    env.write("q_1.csv", &ten_thousand(), 2);
    job(&env, SinkConfig::default(), "q_*.csv", "0.03%", &[])
        .await
        .unwrap();
    assert_eq!(env.run_all("q").await.rows_rejected, 3);
}

/// Rows that break a rule are quarantined naming it (on a typed format too), and JSON's bad
/// values by record.
#[tokio::test]
async fn rule_breaks_and_json_values_are_quarantined() {
    let env = Env::new().await;
    env.write(
        "q_1.csv",
        "id,amount,day\n1,5,2024-01-01\n2,-3,2024-01-01\n3,-4,2024-01-02\n",
        2,
    );
    job(
        &env,
        SinkConfig::default(),
        "q_*.csv",
        "2",
        &["positive: amount > 0"],
    )
    .await
    .unwrap();
    let run = env.run_all("q").await;
    assert_eq!((run.rows_loaded, run.rows_rejected), (1, 2), "{run:?}");
    let rejected = env.engine.rejected("q").await.unwrap();
    let found: Vec<(u64, Option<&str>)> = rejected
        .rows
        .iter()
        .map(|r| (r.record_number, r.rule_name.as_deref()))
        .collect();
    assert_eq!(found, vec![(2, Some("positive")), (3, Some("positive"))]);
    assert_eq!(rejected.counts[0].reason, "positive");
    assert!(
        rejected.rows[0].raw_text.contains(r#""amount":-3"#),
        "{}",
        rejected.rows[0].raw_text
    );

    let env = Env::new().await;
    env.write("j_1.jsonl", "{\"id\": 1, \"ok\": true}\n{\"id\": \"two\", \"ok\": false}\n{\"id\": 3, \"ok\": \"maybe\"}\n{\"id\": 4}\n", 2);
    let mut req = env.request("j", "j_*.jsonl");
    req.table_name = Some("j".into());
    req.settings.max_rejected = "2".parse().unwrap();
    // Detected from the first record alone the columns are INT64 and BOOL.
    req.schema = Some(vec![
        sluice_core::schema::Column::new("id", sluice_core::schema::WarehouseType::Int64),
        sluice_core::schema::Column::new("ok", sluice_core::schema::WarehouseType::Bool),
    ]);
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("j").await;
    assert_eq!((run.rows_loaded, run.rows_rejected), (2, 2), "{run:?}");
    let rejected = env.engine.rejected("j").await.unwrap();
    let found: Vec<(u64, Option<u64>, Option<&str>)> = rejected
        .rows
        .iter()
        .map(|r| (r.record_number, r.line_number, r.column_name.as_deref()))
        .collect();
    assert_eq!(found, vec![(2, None, Some("id")), (3, None, Some("ok"))]);
}

/// Rows quarantined by a rule load once the rule is fixed, each exactly once: a replay
/// loads those that pass and keeps those that fail again; a second replay loads nothing
/// twice.
async fn replay_after_fixing_the_rule(destination: SinkConfig) {
    let env = Env::new().await;
    env.write(
        "q_1.csv",
        "id,amount,day\n1,5,2024-01-01\n2,-3,2024-01-01\n3,0,2024-01-02\n",
        2,
    );
    job(&env, destination, "q_*.csv", "5", &["positive: amount > 0"])
        .await
        .unwrap();
    let run = env.run_all("q").await;
    assert_eq!((run.rows_loaded, run.rows_rejected), (1, 2), "{run:?}");

    env.engine
        .update_job(
            "q",
            sluice_engine::model::JobUpdate {
                rules: Some(vec!["not_zero: amount <> 0".parse().unwrap()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let replay = env.engine.replay_rejected("q").await.unwrap();
    assert_eq!(
        (replay.rows_loaded, replay.rows_rejected),
        (1, 1),
        "{replay:?}"
    );
    let note = replay.files[0].message.clone().unwrap_or_default();
    assert!(
        note.contains("replayed 2 quarantined row(s): 1 loaded, 1 quarantined again"),
        "{note}"
    );
    assert_eq!(env.rows("q").await, 2);
    let rejected = env.engine.rejected("q").await.unwrap();
    let left: Vec<(u64, Option<u64>, Option<&str>)> = rejected
        .rows
        .iter()
        .map(|r| (r.record_number, r.line_number, r.rule_name.as_deref()))
        .collect();
    assert_eq!(left, vec![(3, Some(4), Some("not_zero"))]);
    // The replayed row keeps its record number.
    let lines = rows(&env, "q", &["id", "_sluice_line"]).await;
    assert!(
        lines.contains(&vec!["2".to_string(), "2".to_string()]),
        "{lines:?}"
    );

    let again = env.engine.replay_rejected("q").await.unwrap();
    assert_eq!(
        (again.rows_loaded, again.rows_rejected),
        (0, 1),
        "{again:?}"
    );
    assert_eq!(env.rows("q").await, 2);
    assert_eq!(env.engine.rejected("q").await.unwrap().total, 1);
}

/// A value its column could not hold loads once the column is made STRING; the replay runs
/// in replace mode without emptying the table.
#[tokio::test]
async fn replay_after_widening_a_column_to_string() {
    let env = Env::new().await;
    env.write("q_0.csv", "id,amount,day\n0,1.5,2024-01-01\n", 1);
    env.write(
        "q_1.csv",
        "id,amount,day\n1,12x,2024-01-01\n2,3.5,2024-13-45\n3,4,2024-01-03\n",
        2,
    );
    let mut req = env.request("q", "q_*.csv");
    req.load_latest_only = false;
    req.table_name = Some("q".into());
    req.load_type = sluice_sinks::LoadMode::Replace;
    req.settings.max_rejected = "5".parse().unwrap();
    env.engine.create_job(req).await.unwrap();
    // Replace mode loads the run's files together: the table is both files' good rows.
    let run = env.run_all("q").await;
    assert_eq!((run.rows_loaded, run.rows_rejected), (2, 2), "{run:?}");
    env.engine
        .edit_schema(
            "q",
            &SchemaEdit::types(vec![("amount".into(), "STRING".parse().unwrap())]),
        )
        .await
        .unwrap();
    let replay = env.engine.replay_rejected("q").await.unwrap();
    // Only the amount row fits now; the day row is quarantined again.
    assert_eq!(
        (replay.rows_loaded, replay.rows_rejected),
        (1, 1),
        "{replay:?}"
    );
    assert_eq!(
        rows(&env, "q", &["id", "amount"]).await,
        vec![vec!["0", "1.5"], vec!["1", "12x"], vec!["3", "4.0"]]
    );
}

/// A line with a field too many or too few is quarantined with its text, not the file.
#[tokio::test]
async fn lines_of_the_wrong_width_are_quarantined_with_their_text() {
    let env = Env::new().await;
    env.write("q_0.csv", "id,amount,day\n0,1.5,2024-01-01\n", 1);
    env.write(
        "q_1.csv",
        "id,amount,day\n1,2.5,2024-01-01\n2,3.5,2024-01-02,surplus\n3,\"4,5\"\n4,5.5,2024-01-04\n",
        2,
    );
    job(&env, SinkConfig::default(), "q_*.csv", "5", &[])
        .await
        .unwrap();
    let run = env.run_all("q").await;
    assert_eq!((run.rows_loaded, run.rows_rejected), (3, 2), "{run:?}");
    let rejected = env.engine.rejected("q").await.unwrap();
    let found: Vec<(Option<u64>, &str, &str)> = rejected
        .rows
        .iter()
        .map(|r| (r.line_number, r.error_message.as_str(), r.raw_text.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                Some(3),
                "the line has 4 field(s) where the header has 3",
                "2,3.5,2024-01-02,surplus"
            ),
            (
                Some(4),
                "the line has 2 field(s) where the header has 3",
                "3,\"4,5\""
            ),
        ]
    );
    assert_eq!(
        rows(&env, "q", &["id", "_sluice_line"]).await,
        vec![vec!["0", "1"], vec!["1", "1"], vec!["4", "4"]]
    );
}

/// A JSON line that is not JSON is quarantined with its text, not the file.
#[tokio::test]
async fn a_json_line_that_is_not_json_is_quarantined_with_its_text() {
    let env = Env::new().await;
    env.write(
        "j_1.jsonl",
        "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": nope}\n{\"id\": 3, \"name\": \"c\"}\n",
        2,
    );
    let mut req = env.request("j", "j_*.jsonl");
    req.table_name = Some("j".into());
    req.settings.max_rejected = "1".parse().unwrap();
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("j").await;
    assert_eq!((run.rows_loaded, run.rows_rejected), (2, 1), "{run:?}");
    let rejected = env.engine.rejected("j").await.unwrap();
    let r = &rejected.rows[0];
    assert_eq!(
        (r.record_number, r.raw_text.as_str()),
        (2, "{\"id\": 2, \"name\": nope}")
    );
    assert!(
        !r.error_message.is_empty() && r.rule_name.is_none(),
        "{r:?}"
    );
    assert_eq!(
        rows(&env, "j", &["id", "name", "_sluice_line"]).await,
        vec![vec!["1", "a", "1"], vec!["3", "c", "3"]]
    );
}

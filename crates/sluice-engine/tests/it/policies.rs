//! Schema policies on every destination: one file that adds a column, leaves one out,
//! retypes one and reorders the rest, taken as each policy says; a refused file's columns
//! approved as a proposed version; the versions each change leaves.

use sluice_core::schema::WarehouseType;
use sluice_engine::engine::SchemaEdit;
use sluice_engine::model::{SchemaPolicy, VersionStatus};
use sluice_sinks::SinkConfig;

use crate::Env;
use crate::evolution::rows;

/// The first file: id, amount (INT64), day, note.
const FIRST: &str = "id,amount,day,note\n1,5,2024-01-01,a\n";
/// Reordered, `channel` added, `note` left out, `amount` a decimal now.
const CHANGED: &str = "day,channel,id,amount\n2024-01-02,web,2,2.5\n";

pub(crate) async fn env_for(destination: &SinkConfig) -> Env {
    let env = Env::new().await;
    if let SinkConfig::BigQuery(c) = destination {
        env.engine
            .set_bigquery_endpoint(Some(c.endpoint.clone()))
            .unwrap();
    }
    env
}

/// A job `t` under `policy` that has loaded [`FIRST`].
pub(crate) async fn job_with(env: &Env, destination: SinkConfig, policy: SchemaPolicy) {
    env.write("t_1.csv", FIRST, 3);
    let mut req = env.request("t", "t_*.csv");
    req.load_latest_only = false;
    req.table_name = Some("t".into());
    req.destination = destination;
    req.settings.schema_policy = policy;
    let job = env.engine.create_job(req).await.unwrap();
    assert_eq!(job.settings.schema_policy, policy);
    assert_eq!(env.run_all("t").await.files_loaded, 1);
}

fn types(env_job: &sluice_engine::model::Job) -> Vec<(String, WarehouseType)> {
    env_job
        .schema
        .iter()
        .map(|c| (c.name.clone(), c.ty))
        .collect()
}

async fn fail_proposes_and_approve_loads(destination: SinkConfig) {
    let env = env_for(&destination).await;
    job_with(&env, destination, SchemaPolicy::Fail).await;
    env.write("t_2.csv", CHANGED, 2);
    let plan = env.engine.plan("t", None).await.unwrap();
    assert!(
        plan.schema.iter().any(|s| !s.matches && s.taken.is_none()),
        "{:?}",
        plan.schema
    );
    let run = env.run_all("t").await;
    assert_eq!((run.files_failed, run.rows_loaded), (1, 0), "{run:?}");
    let message = run.files[0].message.clone().unwrap_or_default();
    for part in [
        "+ channel STRING",
        "- note STRING",
        "~ amount: job has INT64, file has FLOAT64",
        "proposed schema version 2",
        "--approve 2",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    // Refused again: the same proposal, not a second one.
    assert_eq!(env.run_all("t").await.files_failed, 1);
    let versions = env.engine.schema_versions("t").await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    let proposed = &versions[0];
    assert_eq!(
        (proposed.version, proposed.status),
        (2, VersionStatus::Proposed)
    );
    assert_eq!(proposed.file_path.as_deref(), Some("t_2.csv"));
    assert_eq!(
        proposed.change.to_string(),
        "add channel STRING, change amount from INT64 to FLOAT64"
    );
    assert_eq!(versions[1].how, "created");
    // The table is as it was until a person approves.
    let job = env.engine.job("t").await.unwrap();
    assert_eq!(types(&job)[1], ("amount".into(), WarehouseType::Int64));

    let accepted = env.engine.approve_schema("t", 2).await.unwrap();
    assert_eq!(accepted.version.status, VersionStatus::Accepted);
    assert_eq!(accepted.version.how, "approved");
    assert_eq!(accepted.files_retried, 1);
    assert!(
        env.engine.approve_schema("t", 2).await.is_err(),
        "approved twice"
    );
    let run = env.run_all("t").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 1), "{run:?}");
    assert_eq!(
        rows(&env, "t", &["id", "amount", "day", "note", "channel"]).await,
        vec![
            vec!["1", "5.0", "2024-01-01", "a", "NULL"],
            vec!["2", "2.5", "2024-01-02", "NULL", "web"],
        ]
    );
}

async fn add_columns_adds_and_refuses_a_retype(destination: SinkConfig) {
    let env = env_for(&destination).await;
    job_with(&env, destination, SchemaPolicy::AddColumns).await;
    env.write("t_2.csv", CHANGED, 2);
    let run = env.run_all("t").await;
    assert_eq!(run.files_failed, 1, "{run:?}");
    let message = run.files[0].message.clone().unwrap_or_default();
    assert!(
        message.contains("schema policy (add-columns) does not take: amount"),
        "{message}"
    );
    // The same change with amount still a whole number: the column is added, note is NULL.
    env.write("t_3.csv", "day,channel,id,amount\n2024-01-03,shop,3,9\n", 1);
    let run = env.run_all("t").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 1), "{run:?}");
    assert!(
        run.files
            .iter()
            .any(|f| f.file_path == "t_3.csv" && f.outcome.is_loaded()),
        "{run:?}"
    );
    let job = env.engine.job("t").await.unwrap();
    assert_eq!(
        types(&job).last().unwrap(),
        &("channel".into(), WarehouseType::String)
    );
    let versions = env.engine.schema_versions("t").await.unwrap();
    let added = versions
        .iter()
        .find(|v| v.status == VersionStatus::Accepted && v.version > 1)
        .unwrap();
    assert_eq!(
        (added.how.as_str(), added.file_path.as_deref()),
        ("add-columns", Some("t_3.csv"))
    );
    assert_eq!(added.change.to_string(), "add channel STRING");
    assert_eq!(
        rows(&env, "t", &["id", "amount", "note", "channel"]).await,
        vec![vec!["1", "5", "a", "NULL"], vec!["3", "9", "NULL", "shop"]]
    );
    // An old-shaped file still loads: the new column is NULL for it.
    env.write("t_4.csv", FIRST.replace("1,5", "4,6").as_str(), 0);
    let run = env.run_all("t").await;
    assert!(
        run.files
            .iter()
            .any(|f| f.file_path == "t_4.csv" && f.outcome.is_loaded()),
        "{run:?}"
    );
}

async fn widen_takes_the_whole_change(destination: SinkConfig) {
    let env = env_for(&destination).await;
    job_with(&env, destination, SchemaPolicy::Widen).await;
    env.write("t_2.csv", CHANGED, 2);
    let plan = env.engine.plan("t", None).await.unwrap();
    let taken = plan
        .schema
        .iter()
        .find_map(|s| s.taken.clone())
        .unwrap_or_default();
    assert!(
        taken.starts_with("widen: add channel STRING, change amount from INT64 to FLOAT64"),
        "{taken}"
    );
    let run = env.run_all("t").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 1), "{run:?}");
    let job = env.engine.job("t").await.unwrap();
    assert_eq!(types(&job)[1], ("amount".into(), WarehouseType::Float64));
    assert_eq!(
        rows(&env, "t", &["id", "amount", "note", "channel"]).await,
        vec![
            vec!["1", "5.0", "a", "NULL"],
            vec!["2", "2.5", "NULL", "web"]
        ]
    );
}

async fn rescue_keeps_the_table(destination: SinkConfig) {
    let env = env_for(&destination).await;
    job_with(&env, destination, SchemaPolicy::Rescue).await;
    env.write(
        "t_2.csv",
        "day,channel,id,amount\n2024-01-02,web,2,2.5\n2024-01-03,,3,4\n",
        2,
    );
    let run = env.run_all("t").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 2), "{run:?}");
    let job = env.engine.job("t").await.unwrap();
    assert_eq!(job.schema.len(), 4, "the job's columns do not change");
    let got = rows(&env, "t", &["id", "amount", "note", "_rescued"]).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(&got[0][..3], ["1", "5", "a"]);
    assert_eq!(got[0][3], "NULL");
    assert_eq!(&got[1][..3], ["2", "NULL", "NULL"]);
    let rescued: serde_json::Value = serde_json::from_str(&got[1][3]).unwrap();
    assert_eq!(
        rescued,
        serde_json::json!({"amount": "2.5", "channel": "web"})
    );
    // A value that converts is the column's; an empty one is nothing to rescue.
    assert_eq!(&got[2][..3], ["3", "4", "NULL"]);
    assert_eq!(got[2][3], "NULL");
    assert_eq!(env.engine.schema_versions("t").await.unwrap().len(), 1);
}

on_every_destination!(
    "policies";
    fail_proposes_and_approve_loads,
    add_columns_adds_and_refuses_a_retype,
    widen_takes_the_whole_change,
    rescue_keeps_the_table
);

#[tokio::test]
async fn json_with_optional_and_reordered_keys_loads_under_fail() {
    let env = Env::new().await;
    env.write(
        "e_1.jsonl",
        "{\"id\": 1, \"name\": \"a\", \"tag\": \"x\"}\n",
        2,
    );
    let mut req = env.request("e", "e_*.jsonl");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    assert_eq!(env.run_all("e").await.rows_loaded, 1);
    env.write(
        "e_2.jsonl",
        "{\"tag\": \"y\", \"id\": 2}\n{\"name\": \"c\", \"id\": 3, \"tag\": \"z\"}\n",
        1,
    );
    let run = env.run_all("e").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 2), "{run:?}");
    assert_eq!(
        rows(&env, "e", &["id", "name", "tag"]).await,
        vec![
            vec!["1", "a", "x"],
            vec!["2", "NULL", "y"],
            vec!["3", "c", "z"]
        ]
    );
    assert_eq!(env.engine.schema_versions("e").await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_edit_widens_a_type_and_refuses_a_lossy_one() {
    let env = Env::new().await;
    job_with(&env, SinkConfig::default(), SchemaPolicy::Fail).await;
    let ty = |t: &str| t.parse().unwrap();
    let e = env
        .engine
        .edit_schema("t", &SchemaEdit::types(vec![("id".into(), ty("BOOL"))]))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("column id cannot change from INT64 to BOOL"),
        "{e}"
    );
    let e = env
        .engine
        .edit_schema("t", &SchemaEdit::types(vec![("nope".into(), ty("STRING"))]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no column nope"), "{e}");
    let edited = env
        .engine
        .edit_schema(
            "t",
            &SchemaEdit::types(vec![
                ("amount".into(), ty("NUMERIC")),
                ("day".into(), ty("TIMESTAMP")),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(edited.version.version, 2);
    assert_eq!(edited.version.how, "edited");
    // A file of the first shape loads into the widened columns.
    env.write("t_2.csv", "id,amount,day,note\n2,7,2024-02-01,b\n", 1);
    let run = env.run_all("t").await;
    assert_eq!(run.rows_loaded, 1, "{run:?}");
    let got = rows(&env, "t", &["id", "amount", "day"]).await;
    assert!(got[0][2].starts_with("2024-01-01T00:00:00"), "{got:?}");
    assert_eq!(got[1][1].parse::<f64>().unwrap(), 7.0, "{got:?}");
}

/// A mistyped value far past the sample the schema was detected from is rescued too, not
/// only those the sample showed: text is typed row by row.
#[tokio::test]
async fn rescue_takes_a_bad_value_past_the_sample() {
    let env = Env::new().await;
    job_with(&env, SinkConfig::default(), SchemaPolicy::Rescue).await;
    let mut text = String::from("id,amount,day,note\n");
    let rows_in_file = 220_000;
    for i in 0..rows_in_file {
        if i == 210_000 {
            text.push_str("210000,n/a,soon,late\n");
        } else {
            text.push_str(&format!("{i},{},2024-03-01,row number {i}\n", i % 97));
        }
    }
    assert!(text.len() > 6 << 20, "past the 5 MB sample: {}", text.len());
    env.write("t_2.csv", &text, 1);
    let run = env.run_all("t").await;
    assert_eq!(
        (run.files_loaded, run.rows_loaded),
        (1, rows_in_file),
        "{run:?}"
    );
    // Every row read back: the bad one, and how many hold rescued values.
    let table = env.engine.job_table("t").await.unwrap();
    let mut bad = None;
    let mut rescued_rows = 0;
    for b in table.preview(&"t".parse().unwrap(), 300_000).await.unwrap() {
        let column = |name: &str| {
            arrow::compute::cast(
                b.column(b.schema().index_of(name).unwrap()),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap()
        };
        let (id, amount, day, rescued) = (
            column("id"),
            column("amount"),
            column("day"),
            column("_rescued"),
        );
        let text = |a: &arrow::array::ArrayRef, r: usize| {
            use arrow::array::{Array, AsArray};
            a.is_valid(r)
                .then(|| a.as_string::<i32>().value(r).to_string())
        };
        for r in 0..b.num_rows() {
            rescued_rows += usize::from(text(&rescued, r).is_some());
            if text(&id, r).as_deref() == Some("210000") {
                bad = Some((text(&amount, r), text(&day, r), text(&rescued, r)));
            }
        }
    }
    let (amount, day, rescued) = bad.expect("the bad row loaded");
    assert_eq!((amount, day), (None, None));
    let rescued: serde_json::Value = serde_json::from_str(&rescued.unwrap()).unwrap();
    assert_eq!(rescued, serde_json::json!({"amount": "n/a", "day": "soon"}));
    assert_eq!(rescued_rows, 1, "only the bad row holds rescued values");
}

//! Deduplication by key through runs, on every destination: within a file and across
//! files, keeping the first or the last; the file's record says what was left out.

use sluice_sinks::SinkConfig;
use sluice_sinks::dedup::{Dedup, Keep};

use crate::Env;
use crate::evolution::rows;

async fn dedup_within_and_across_files(destination: SinkConfig) {
    let env = Env::new().await;
    if let SinkConfig::BigQuery(c) = &destination {
        env.engine
            .set_bigquery_endpoint(Some(c.endpoint.clone()))
            .unwrap();
    }
    env.write("c_1.csv", "id,name\n1,ann\n2,bob\n1,ann again\n", 3);
    let mut req = env.request("c", "c_*.csv");
    req.load_latest_only = false;
    req.table_name = Some("c".into());
    req.destination = destination;
    req.settings.dedup = Some(Dedup {
        key: vec!["id".into()],
        keep: Keep::First,
    });
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("c").await;
    assert_eq!(run.rows_loaded, 2, "{run:?}");
    let note = run.files[0].message.clone().unwrap_or_default();
    assert!(
        note.contains("1 row(s) left out as duplicates by key id (keep first)"),
        "{note}"
    );
    // A second file repeats id 2 (kept as loaded) and brings id 3.
    env.write("c_2.csv", "id,name\n2,bobby\n3,cy\n", 2);
    let run = env.run_all("c").await;
    assert_eq!(run.rows_loaded, 1, "{run:?}");
    assert_eq!(
        rows(&env, "c", &["id", "name"]).await,
        vec![vec!["1", "ann"], vec!["2", "bob"], vec!["3", "cy"]]
    );
    // Keeping the last, a newer file's row replaces the loaded one.
    env.engine
        .update_job(
            "c",
            sluice_engine::model::JobUpdate {
                dedup: Some(Some(Dedup {
                    key: vec!["id".into()],
                    keep: Keep::Last,
                })),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    env.write("c_3.csv", "id,name\n3,cyd\n4,dee\n3,cyril\n", 1);
    let run = env.run_all("c").await;
    assert_eq!(run.rows_loaded, 2, "{run:?}");
    assert_eq!(
        rows(&env, "c", &["id", "name"]).await,
        vec![
            vec!["1", "ann"],
            vec!["2", "bob"],
            vec!["3", "cyril"],
            vec!["4", "dee"]
        ]
    );
}

on_every_destination!("dedup"; dedup_within_and_across_files);

#[tokio::test]
async fn a_dedup_key_that_is_not_a_column_is_refused() {
    let env = Env::new().await;
    env.write("c_1.csv", "id,name\n1,ann\n", 3);
    let mut req = env.request("c", "c_*.csv");
    req.settings.dedup = Some(Dedup {
        key: vec!["nope".into()],
        keep: Keep::First,
    });
    let err = env.engine.create_job(req).await.unwrap_err();
    assert_eq!(err.field(), Some("dedup_key"), "{err}");
    assert!(
        err.to_string()
            .contains("dedup key column nope is not one of the job's columns (id, name)"),
        "{err}"
    );
}

//! A user's edit of a job's schema on every destination: a column dropped, one renamed,
//! one widened, as a new version; files of the old shape keep loading by their own names.
//! Edits that cannot be made are refused before anything changes.

use sluice_engine::engine::SchemaEdit;
use sluice_engine::model::{JobUpdate, SchemaPolicy};
use sluice_sinks::SinkConfig;
use sluice_sinks::dedup::{Dedup, Keep};

use crate::evolution::rows;
use crate::policies::{env_for, job_with};

fn edit() -> SchemaEdit {
    SchemaEdit {
        types: vec![("amount".into(), "NUMERIC".parse().unwrap())],
        rename: vec![("note".into(), "comment".into())],
        drop: vec!["day".into()],
    }
}

async fn an_edit_renames_drops_and_widens(destination: SinkConfig) {
    let env = env_for(&destination).await;
    job_with(&env, destination, SchemaPolicy::Fail).await;
    let accepted = env.engine.edit_schema("t", &edit()).await.unwrap();
    assert_eq!(
        (accepted.version.version, accepted.version.how.as_str()),
        (2, "edited")
    );
    assert_eq!(
        accepted.version.change.to_string(),
        "drop day, rename note to comment, change amount from INT64 to NUMERIC"
    );
    let job = env.engine.job("t").await.unwrap();
    let names: Vec<_> = job.schema.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "amount", "comment"]);
    assert_eq!(job.schema[2].source.as_deref(), Some("note"));
    assert_eq!(job.settings.ignored_columns, ["day"]);

    // A file of the first shape, and one without the dropped column and with a decimal
    // amount (for the NUMERIC column now): both load.
    env.write("t_2.csv", "id,amount,day,note\n2,7,2024-02-01,b\n", 2);
    env.write("t_3.csv", "note,id,amount\nc,3,8.5\n", 1);
    let run = env.run_all("t").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (2, 2), "{run:?}");
    let got = rows(&env, "t", &["id", "amount", "comment"]).await;
    let mut got: Vec<(String, f64, String)> = got
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap(), r[2].clone()))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("1".into(), 5.0, "a".into()),
            ("2".into(), 7.0, "b".into()),
            ("3".into(), 8.5, "c".into())
        ]
    );
    let table = env.engine.job_table("t").await.unwrap();
    let batches = table.preview(&job.table_name, 10).await.unwrap();
    assert!(
        batches[0].schema().index_of("day").is_err(),
        "day is dropped"
    );
    // Asked again, the edit names what is no longer there.
    let e = env.engine.edit_schema("t", &edit()).await.unwrap_err();
    assert!(e.to_string().contains("no column day"), "{e}");
}

on_every_destination!("schema_edit"; an_edit_renames_drops_and_widens);

#[tokio::test]
async fn an_edit_that_cannot_be_made_is_refused_naming_why() {
    let env = env_for(&SinkConfig::default()).await;
    job_with(&env, SinkConfig::default(), SchemaPolicy::Fail).await;
    let rename = |from: &str, to: &str| SchemaEdit {
        rename: vec![(from.into(), to.into())],
        ..SchemaEdit::default()
    };
    let drop = |names: &[&str]| SchemaEdit {
        drop: names.iter().map(|n| n.to_string()).collect(),
        ..SchemaEdit::default()
    };
    let cases = [
        (rename("note", "id"), "has a column id already"),
        (rename("note", "_sluice_file"), "keeps that name"),
        (rename("note", "no good"), "a column name has letters"),
        (rename("nope", "x"), "no column nope"),
        (drop(&["nope"]), "no column nope"),
        (drop(&["id", "amount", "day", "note"]), "drop every column"),
        (
            SchemaEdit {
                drop: vec!["note".into()],
                ..rename("note", "comment")
            },
            "both renamed and dropped",
        ),
        (SchemaEdit::default(), "changes nothing"),
    ];
    for (edit, expected) in cases {
        let e = env.engine.edit_schema("t", &edit).await.unwrap_err();
        assert!(e.to_string().contains(expected), "{expected}: {e}");
    }
    // A rule names the column: it must go first, and nothing changes.
    let update = JobUpdate {
        rules: Some(vec!["positive: amount > 0".parse().unwrap()]),
        ..JobUpdate::default()
    };
    env.engine.update_job("t", update).await.unwrap();
    let e = env
        .engine
        .edit_schema("t", &rename("amount", "amt"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--no-rules"), "{e}");
    assert_eq!(env.engine.schema_versions("t").await.unwrap().len(), 1);
    let names = |job: &sluice_engine::model::Job| -> Vec<String> {
        job.schema.iter().map(|c| c.name.clone()).collect()
    };
    assert_eq!(
        names(&env.engine.job("t").await.unwrap()),
        ["id", "amount", "day", "note"]
    );
    // A dedup key follows its column's new name.
    let update = JobUpdate {
        dedup: Some(Some(Dedup {
            key: vec!["note".into()],
            keep: Keep::First,
        })),
        ..JobUpdate::default()
    };
    env.engine.update_job("t", update).await.unwrap();
    env.engine
        .edit_schema("t", &rename("note", "comment"))
        .await
        .unwrap();
    let job = env.engine.job("t").await.unwrap();
    assert_eq!(job.settings.dedup.as_ref().unwrap().key, ["comment"]);
    assert_eq!(names(&job), ["id", "amount", "day", "comment"]);
    // The rule, which does not name the renamed column, stays.
    assert_eq!(job.settings.row_rules.rules.len(), 1);
}

use sluice_core::schema::{Column, WarehouseType};
use sluice_engine::Error;

use crate::{Env, transactions};

#[tokio::test]
async fn creating_a_job_detects_the_newest_file_and_creates_the_table() {
    let env = Env::new().await;
    env.write("transactions_2024-11-18.csv", &transactions(1, 5), 10);
    env.write("sub/transactions_2024-11-19.csv", &transactions(6, 5), 1);
    let job = env
        .engine
        .create_job(env.request("tx", "transactions_*.csv"))
        .await
        .unwrap();
    assert_eq!(job.table_name.to_string(), "transactions");
    let types: Vec<(String, WarehouseType)> =
        job.schema.iter().map(|c| (c.name.clone(), c.ty)).collect();
    assert_eq!(
        types,
        vec![
            ("id".into(), WarehouseType::Int64),
            ("amount".into(), WarehouseType::Float64),
            ("currency".into(), WarehouseType::String),
            ("created_at".into(), WarehouseType::Timestamp),
            ("note".into(), WarehouseType::String),
        ]
    );
    assert_eq!(job.schema_fingerprint.len(), 32);
    assert_eq!(env.rows("tx").await, 0, "the table exists and is empty");
    let listed = env.engine.jobs().await.unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_duplicate_job_name_is_refused() {
    let env = Env::new().await;
    env.write("a.csv", &transactions(1, 2), 1);
    env.engine
        .create_job(env.request("tx", "*.csv"))
        .await
        .unwrap();
    let err = env
        .engine
        .create_job(env.request("tx", "*.csv"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err:?}");
    assert!(
        err.to_string().contains("a job named 'tx' already exists"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_job_requests_get_clear_errors() {
    let env = Env::new().await;
    env.write("orders.csv", &transactions(1, 2), 1);

    let mut req = env.request("tx", "*.csv");
    req.connection = "nope".into();
    let err = env.engine.create_job(req).await.unwrap_err().to_string();
    assert!(err.contains("no connection named 'nope'"), "{err}");

    let err = env
        .engine
        .create_job(env.request("tx", "transactions_*.csv"))
        .await
        .unwrap_err();
    // The broader pattern is data, for each interface to word (the CLI as --pattern).
    let hint = err.hint().unwrap();
    assert_eq!(
        (hint.field.as_deref(), hint.value.as_deref()),
        (Some("file_pattern"), Some("*.csv"))
    );
    assert_eq!(err.field(), Some("file_pattern"));
    let err = err.to_string();
    assert!(
        err.contains("no files matching 'transactions_*.csv'"),
        "{err}"
    );
    assert!(
        err.contains("orders.csv") && err.contains("try the pattern '*.csv'"),
        "{err}"
    );

    let mut req = env.request("tx", "*.csv");
    req.table_name = Some("drop table;".into());
    let err = env.engine.create_job(req).await.unwrap_err().to_string();
    assert!(err.starts_with("invalid table name 'drop table;'"), "{err}");

    let err = env
        .engine
        .create_job(env.request("bad name", "*.csv"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid job name 'bad name'"), "{err}");

    let err = env
        .engine
        .create_job(env.request("tx", "orders_[.csv"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid file pattern 'orders_[.csv'"),
        "{err}"
    );
}

#[tokio::test]
async fn a_reviewed_schema_changes_types_but_not_columns() {
    let env = Env::new().await;
    env.write("t.csv", "id,code\n1,7\n2,8\n", 1);
    let mut req = env.request("tx", "*.csv");
    req.schema = Some(vec![
        Column::new("id", WarehouseType::Int64),
        Column::new("code", WarehouseType::String),
    ]);
    let job = env.engine.create_job(req).await.unwrap();
    assert_eq!(job.schema[1].ty, WarehouseType::String);
    let run = env.run("tx").await;
    assert_eq!(run.rows_loaded, 2);

    let mut req = env.request("tx2", "*.csv");
    req.table_name = Some("other".into());
    req.schema = Some(vec![
        Column::new("id", WarehouseType::Int64),
        Column::new("kode", WarehouseType::String),
    ]);
    let err = env.engine.create_job(req).await.unwrap_err().to_string();
    assert!(
        err.contains("reviewed schema's columns (id, kode) are not the file's (id, code)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_job_into_an_existing_table_with_other_columns_is_refused() {
    let env = Env::new().await;
    env.write("a.csv", "id,name\n1,x\n", 2);
    env.write("b.txt", "id|amount|day\n1|2.5|2024-01-01\n", 1);
    let mut first = env.request("a", "a.csv");
    first.table_name = Some("t".into());
    env.engine.create_job(first).await.unwrap();
    let mut second = env.request("b", "b.txt");
    second.table_name = Some("t".into());
    let err = env.engine.create_job(second).await.unwrap_err().to_string();
    assert!(
        err.contains("table t already exists with other columns"),
        "{err}"
    );
}

#[tokio::test]
async fn deleting_a_job_keeps_its_table_unless_asked() {
    let env = Env::new().await;
    env.write("a.csv", &transactions(1, 3), 1);
    env.engine
        .create_job(env.request("tx", "a.csv"))
        .await
        .unwrap();
    env.run("tx").await;
    let job = env.engine.job("tx").await.unwrap();
    let sink = env.engine.sink(&job.destination).unwrap();
    env.engine.delete_job("tx", false).await.unwrap();
    assert_eq!(sink.count_rows(&job.table_name).await.unwrap(), 3);
    assert!(matches!(
        env.engine.job("tx").await,
        Err(Error::NotFound { .. })
    ));

    // Made again over the kept table: refused, then with the table replaced it loads
    // the file once.
    let err = env
        .engine
        .create_job(env.request("tx", "a.csv"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    let mut req = env.request("tx", "a.csv");
    req.existing_table = sluice_engine::jobs::ExistingTable::Replace;
    env.engine.create_job(req).await.unwrap();
    let run = env.run("tx").await;
    assert_eq!(run.files_loaded, 1, "a recreated job loads its files again");
    assert_eq!(sink.count_rows(&job.table_name).await.unwrap(), 3);
    env.engine.delete_job("tx", true).await.unwrap();
    assert!(
        sink.count_rows(&job.table_name).await.is_err(),
        "the table was dropped"
    );
}

#[tokio::test]
async fn listing_shows_files_newest_first_and_flags_large_ones() {
    let env = Env::new().await;
    env.write("a_1.csv", &transactions(1, 2), 3);
    env.write("deep/er/a_2.csv", &transactions(1, 200), 2);
    env.write("a_3.csv", &transactions(1, 2), 1);
    env.write("b.csv", &transactions(1, 2), 0);
    let l = env
        .engine
        .list_files("local", "", "a_*.csv", None, Some(1000))
        .await
        .unwrap();
    let names: Vec<&str> = l.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["a_3.csv", "deep/er/a_2.csv", "a_1.csv"]);
    assert_eq!(
        l.files.iter().map(|f| f.over_limit).collect::<Vec<_>>(),
        vec![false, true, false]
    );
    let limited = env
        .engine
        .list_files("local", "", "a_*.csv", Some(1), None)
        .await
        .unwrap();
    assert_eq!((limited.files.len(), limited.count), (1, 3));
    let none = env
        .engine
        .list_files("local", "deep", "*.json", None, None)
        .await
        .unwrap();
    assert!(none.files.is_empty());
    let suggestion = none.suggestion.unwrap();
    assert!(
        suggestion.contains("no files matching '*.json' under 'deep/'"),
        "{suggestion}"
    );
}

#[tokio::test]
async fn connections_are_validated_tested_and_protected() {
    let env = Env::new().await;
    let err = env
        .engine
        .add_connection_url("local", "file:///tmp", &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a connection named 'local' already exists"),
        "{err}"
    );
    let err = env
        .engine
        .add_connection_url("x", "ftp://h/", &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported scheme 'ftp'"), "{err}");
    env.write("a.csv", "x\n1\n", 1);
    assert_eq!(env.engine.test_connection("local").await.unwrap(), 1);
    env.engine
        .create_job(env.request("tx", "a.csv"))
        .await
        .unwrap();
    let err = env
        .engine
        .delete_connection("local")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("used by job(s) tx"), "{err}");
}

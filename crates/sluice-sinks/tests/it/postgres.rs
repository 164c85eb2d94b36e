//! The suite on PostgreSQL, plus what only a query through PostgreSQL can show.

use sluice_core::names::TableName;
use sluice_core::schema::{Column, WarehouseType};
use sluice_sinks::postgres::PostgresSink;
use sluice_sinks::{Inspect, Sink};

use crate::suite;

use sluice_testkit::postgres::{TestDb, connect as pg_connect};

async fn sink(db: &TestDb) -> PostgresSink {
    PostgresSink::new(&db.url).unwrap()
}

async fn postgres_fixture() -> suite::Fixture {
    let db = TestDb::new("sinks").await;
    suite::Fixture {
        sink: Box::new(sink(&db).await),
        int64: sluice_sinks::postgres::postgres_type(WarehouseType::Int64),
        unread: &[],
        arrays_hold_nulls: true,
        widens_dates: true,
        guard: Box::new(db),
    }
}

suite::conformance!(conformance, crate::postgres::postgres_fixture());

#[tokio::test]
async fn postgres_stores_timestamps_as_instants() {
    let db = TestDb::new("sinks").await;
    let sink = sink(&db).await;
    suite::load_one_timestamp(&sink, "2024-11-19T10:00:00+02:00").await;
    // Asked through PostgreSQL in another zone: the instant, not the wall-clock text, is stored.
    let utc = db
        .text(
            "SELECT to_char(\"at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || ' ' || extract(epoch FROM \"at\")::bigint FROM ts",
        )
        .await;
    assert_eq!(utc, "2024-11-19T08:00:00 1732003200");
}

#[tokio::test]
async fn postgres_tables_have_the_mapped_types_and_numeric_keeps_its_digits() {
    let db = TestDb::new("sinks").await;
    let sink = sink(&db).await;
    let table = TableName::parse("analytics.typed").unwrap();
    let mut columns: Vec<Column> = WarehouseType::ALL
        .iter()
        .map(|t| Column::new(format!("c_{}", t.as_str().to_lowercase()), *t))
        .collect();
    columns[0].mode = sluice_core::schema::Mode::Required;
    sink.ensure_table(&table, &columns).await.unwrap();
    let types = db
        .text(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY attnum)
             FROM pg_attribute WHERE attrelid = 'analytics.typed'::regclass AND attnum > 0",
        )
        .await;
    let expected: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let pg = sluice_sinks::postgres::postgres_type(c.ty);
            format!("{} {pg}{}", c.name, if i == 0 { " not null" } else { "" })
        })
        .collect();
    assert_eq!(types, expected.join(", "));
    assert!(
        types.contains("numeric(38,9)")
            && types.contains("jsonb")
            && types.contains("timestamp with time zone")
    );

    // NUMERIC through PostgreSQL's own text: all 38 digits.
    let t = TableName::parse("n").unwrap();
    let cols = vec![Column::new("v", WarehouseType::Numeric)];
    sink.ensure_table(&t, &cols).await.unwrap();
    let value = arrow::array::Decimal128Array::from(vec![
        12_345_678_901_234_567_890_123_456_789_012_345_678i128,
    ])
    .with_precision_and_scale(38, 9)
    .unwrap();
    let batch = arrow::array::RecordBatch::try_new(
        sluice_core::schema::arrow_schema(&cols),
        vec![std::sync::Arc::new(value)],
    )
    .unwrap();
    sink.load(
        &t,
        &cols,
        &suite::load("n"),
        sluice_sinks::LoadMode::Append,
        suite::stream(vec![Ok(batch)]),
    )
    .await
    .unwrap();
    assert_eq!(
        db.text("SELECT v::text FROM n").await,
        "12345678901234567890123456789.012345678"
    );
}

#[tokio::test]
async fn postgres_errors_name_the_column_and_unreachable_servers_are_transient() {
    let db = TestDb::new("sinks").await;
    let sink = sink(&db).await;
    let table = TableName::parse("j").unwrap();
    let cols = vec![Column::new("doc", WarehouseType::Json)];
    sink.ensure_table(&table, &cols).await.unwrap();
    let batch = arrow::array::RecordBatch::try_new(
        sluice_core::schema::arrow_schema(&cols),
        vec![std::sync::Arc::new(arrow::array::StringArray::from(vec![
            "{\"ok\":1}",
            "{not json",
        ]))],
    )
    .unwrap();
    let err = sink
        .load(
            &table,
            &cols,
            &suite::load("j"),
            sluice_sinks::LoadMode::Append,
            suite::stream(vec![Ok(batch)]),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("doc") && text.contains("22P02") && text.contains("j"),
        "{text}"
    );
    assert!(!err.is_transient(), "{text}");
    assert_eq!(sink.count_rows(&table).await.unwrap(), 0);
    assert_eq!(sink.was_loaded("j").await.unwrap(), None);

    // Nothing listens on port 1.
    let down =
        PostgresSink::new("postgres://loader:hunter2@127.0.0.1:1/wh?sslmode=disable").unwrap();
    assert!(!down.describe().contains("hunter2"));
    let err = down.check().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// TLS against the test server, whose certificate (signed by the test CA at
/// `SLUICE_TEST_POSTGRES_CA`) names `localhost` only. Its pg_hba.conf lets the role
/// `sluice_tls_only` (made by `scripts/peers.sh`) in over TLS only, so a connection that
/// works for that role is encrypted.
#[tokio::test]
async fn postgres_tls_modes_encrypt_and_check_the_server_certificate() {
    let db = TestDb::new("sinks").await;
    let ca = std::env::var("SLUICE_TEST_POSTGRES_CA")
        .expect("SLUICE_TEST_POSTGRES_CA is not set: eval \"$(bash scripts/peers.sh env)\"");
    let admin = pg_connect(&sluice_testkit::postgres::admin_url()).await;
    admin
        .batch_execute(&format!(
            "GRANT ALL ON DATABASE \"{0}\" TO sluice_tls_only; ALTER DATABASE \"{0}\" OWNER TO sluice_tls_only",
            db.name
        ))
        .await
        .unwrap();
    let port = url::Url::parse(&sluice_testkit::postgres::admin_url())
        .unwrap()
        .port()
        .unwrap();
    let url = |host: &str, params: &str| {
        format!(
            "postgres://sluice_tls_only@{host}:{port}/{}?{params}",
            db.name
        )
    };
    let table = TableName::parse("tls.t").unwrap();
    let (columns, batch) = suite::ints(3);

    // verify-full against the host the certificate names, with the CA: loads.
    let sink = PostgresSink::new(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap();
    sink.check().await.unwrap();
    sink.ensure_table(&table, &columns).await.unwrap();
    sink.load(
        &table,
        &columns,
        &suite::load("tls-1"),
        sluice_sinks::LoadMode::Append,
        suite::stream(vec![Ok(batch)]),
    )
    .await
    .unwrap();
    assert_eq!(sink.count_rows(&table).await.unwrap(), 3);

    // The certificate does not name 127.0.0.1: verify-full refuses, verify-ca and require
    // (encrypted, unchecked, as libpq) connect.
    let err = PostgresSink::new(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap()
    .check()
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("sslmode=verify-ca"), "{err}");
    for params in [
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        "sslmode=require".into(),
    ] {
        let sink = PostgresSink::new(&url("127.0.0.1", &params)).unwrap();
        assert_eq!(sink.count_rows(&table).await.unwrap(), 3, "{params}");
    }

    // Without the test CA (the system's CAs), the certificate is not trusted.
    let err = PostgresSink::new(&url("localhost", "sslmode=verify-full"))
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("sslrootcert=FILE"), "{err}");

    // Clear text is refused by the server for this role: the connections above were TLS.
    let err = PostgresSink::new(&url("127.0.0.1", "sslmode=disable"))
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no encryption"), "{err}");
    drop(sink);
    // Owned by the TLS-only role now: given back, so the scratch database can be dropped.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" OWNER TO CURRENT_USER",
            db.name
        ))
        .await
        .unwrap();
}

//! Files whose columns change: CSV columns matched by the header's names on every
//! destination, header-less CSV by position.

use arrow::util::display::{ArrayFormatter, FormatOptions as Display};
use sluice_core::format::FormatOptions;
use sluice_core::format::csv::CsvOptions;
use sluice_sinks::SinkConfig;

use crate::Env;

/// The table's rows as text, the columns by name, sorted.
pub(crate) async fn rows(env: &Env, job: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let table = env.engine.job_table(job).await.unwrap();
    let job = env.engine.job(job).await.unwrap();
    let mut out = Vec::new();
    for b in table.preview(&job.table_name, 100).await.unwrap() {
        let shown: Vec<_> = columns
            .iter()
            .map(|c| b.column(b.schema().index_of(c).unwrap()).clone())
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                shown
                    .iter()
                    .map(|a| {
                        // Instants by their offset: named zones need chrono-tz to print.
                        let a = match a.data_type() {
                            arrow::datatypes::DataType::Timestamp(unit, Some(_)) => {
                                arrow::compute::cast(
                                    a,
                                    &arrow::datatypes::DataType::Timestamp(
                                        *unit,
                                        Some("+00:00".into()),
                                    ),
                                )
                                .unwrap()
                            }
                            _ => a.clone(),
                        };
                        let f = ArrayFormatter::try_new(
                            a.as_ref(),
                            &Display::default().with_null("NULL"),
                        )
                        .unwrap();
                        f.value(r).to_string()
                    })
                    .collect(),
            );
        }
    }
    out.sort();
    out
}

async fn reordered_header_loads_by_name(destination: SinkConfig) {
    let env = Env::new().await;
    if let SinkConfig::BigQuery(c) = &destination {
        env.engine
            .set_bigquery_endpoint(Some(c.endpoint.clone()))
            .unwrap();
    }
    env.write("t_1.csv", "id,name,amount\n1,a,1.5\n", 2);
    let mut req = env.request("t", "t_*.csv");
    req.load_latest_only = false;
    req.table_name = Some("t".into());
    req.destination = destination;
    env.engine.create_job(req).await.unwrap();
    assert_eq!(env.run_all("t").await.files_loaded, 1);
    env.write("t_2.csv", "amount,id,name\n2.5,2,\"b, c\"\n-1,3,d\n", 1);
    let plan = env.engine.plan("t", None).await.unwrap();
    assert!(
        !plan.schema.is_empty() && plan.schema.iter().all(|f| f.matches),
        "{:?}",
        plan.schema
    );
    let run = env.run_all("t").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 2), "{run:?}");
    assert_eq!(
        rows(&env, "t", &["id", "name", "amount"]).await,
        vec![
            vec!["1", "a", "1.5"],
            vec!["2", "b, c", "2.5"],
            vec!["3", "d", "-1.0"],
        ]
    );
    // A header with a column more is still a changed schema (the job's policy is `fail`).
    env.write("t_3.csv", "id,name,amount,channel\n4,e,1,web\n", 0);
    let run = env.run_all("t").await;
    assert_eq!(run.files_failed, 1, "{run:?}");
    let message = run.files[0].message.clone().unwrap_or_default();
    assert!(message.contains("+ channel STRING"), "{message}");
}

#[tokio::test]
async fn a_reordered_csv_header_loads_by_name_into_duckdb() {
    reordered_header_loads_by_name(SinkConfig::default()).await;
}

#[tokio::test]
async fn a_reordered_csv_header_loads_by_name_into_postgres() {
    let db = sluice_testkit::postgres::TestDb::new("evolution").await;
    reordered_header_loads_by_name(SinkConfig::Postgres(
        sluice_sinks::postgres::PostgresConfig {
            url: db.url_with_password("disable"),
        },
    ))
    .await;
}

#[tokio::test]
async fn a_reordered_csv_header_loads_by_name_into_bigquery() {
    reordered_header_loads_by_name(SinkConfig::BigQuery(crate::formats::bigquery_config())).await;
}

#[tokio::test]
async fn header_less_csv_is_read_by_position() {
    let env = Env::new().await;
    env.write("n_1.csv", "1,a\n2,b\n", 2);
    let mut req = env.request("n", "n_*.csv");
    req.load_latest_only = false;
    req.format = Some(FormatOptions::Csv(CsvOptions {
        has_header: Some(false),
        ..Default::default()
    }));
    env.engine.create_job(req).await.unwrap();
    assert_eq!(env.run_all("n").await.rows_loaded, 2);
    // Swapped columns: the first is no longer a number.
    env.write("n_2.csv", "c,3\nd,4\n", 1);
    let run = env.run_all("n").await;
    assert_eq!(run.files_failed, 1, "{run:?}");
    let message = run.files[0].message.clone().unwrap_or_default();
    assert!(message.contains("column_1"), "{message}");
}

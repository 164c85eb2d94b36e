//! Column mapping through runs, on every destination: a file's column loaded under another
//! name, a column left out, columns set from a constant and from an expression; files with
//! those columns in another order load as well, and a bad mapping is refused by name.

use sluice_engine::mapping::ColumnMapping;
use sluice_sinks::SinkConfig;

use crate::Env;
use crate::evolution::rows;

fn mapping() -> ColumnMapping {
    ColumnMapping {
        rename: vec![("CustID".into(), "customer_id".into())],
        drop: vec!["junk".into()],
        set: vec![
            "source_system = 'crm'".parse().unwrap(),
            "amount_cents = CAST(round(amount * 100) AS BIGINT)"
                .parse()
                .unwrap(),
        ],
    }
}

async fn columns_are_mapped(destination: SinkConfig) {
    let env = Env::new().await;
    if let SinkConfig::BigQuery(c) = &destination {
        env.engine
            .set_bigquery_endpoint(Some(c.endpoint.clone()))
            .unwrap();
    }
    env.write("m_1.csv", "CustID,amount,junk\n7,1.25,x\n8,2.5,y\n", 3);
    let mut req = env.request("m", "m_*.csv");
    req.load_latest_only = false;
    req.table_name = Some("m".into());
    req.destination = destination;
    req.column_mapping = mapping();
    let job = env.engine.create_job(req).await.unwrap();
    let names: Vec<&str> = job.schema.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["customer_id", "amount", "source_system", "amount_cents"]
    );
    assert_eq!(job.schema[3].ty.to_string(), "INT64");
    // A later file puts the columns in another order.
    env.write("m_2.csv", "junk,amount,CustID\nz,3.75,9\n", 2);
    let run = env.run_all("m").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (2, 3), "{run:?}");
    assert_eq!(
        rows(
            &env,
            "m",
            &["customer_id", "amount", "source_system", "amount_cents"]
        )
        .await,
        vec![
            vec!["7", "1.25", "crm", "125"],
            vec!["8", "2.5", "crm", "250"],
            vec!["9", "3.75", "crm", "375"]
        ]
    );
}

on_every_destination!("mapping"; columns_are_mapped);

#[tokio::test]
async fn a_mapping_of_a_column_the_file_lacks_or_a_name_taken_twice_is_refused() {
    let env = Env::new().await;
    env.write("m_1.csv", "CustID,amount,junk\n7,1.25,x\n", 3);
    let cases: [(ColumnMapping, &str); 4] = [
        (
            ColumnMapping {
                rename: vec![("nope".into(), "x".into())],
                ..Default::default()
            },
            "cannot rename column nope: the file has no such column; its columns are CustID, amount, junk",
        ),
        (
            ColumnMapping {
                drop: vec!["nope".into()],
                ..Default::default()
            },
            "cannot leave out column nope",
        ),
        (
            ColumnMapping {
                rename: vec![("CustID".into(), "amount".into())],
                ..Default::default()
            },
            "two of the table's columns would be named amount",
        ),
        (
            ColumnMapping {
                set: vec!["total = nope * 2".parse().unwrap()],
                ..Default::default()
            },
            "set total = nope * 2",
        ),
    ];
    for (mapping, said) in cases {
        let mut req = env.request("m", "m_*.csv");
        req.column_mapping = mapping;
        let err = env.engine.create_job(req).await.unwrap_err();
        assert_eq!(err.field(), Some("column_mapping"), "{err}");
        assert!(err.to_string().contains(said), "{err}");
    }
}

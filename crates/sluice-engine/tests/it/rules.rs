//! Row rules through runs: transforms, filters and each kind of validation rule, on every
//! destination; a broken rule fails its file naming the record, nothing of it loaded.

use sluice_sinks::SinkConfig;

use crate::Env;
use crate::evolution::rows;

const ORDERS: &str = "id,currency,amount,code,note\n\
1,eur,10,ABC,  first  \n\
2,usd,-5,ABD,test\n\
3,EUR,7,XYZ,third\n";

async fn job(
    env: &Env,
    destination: SinkConfig,
    rules: &[&str],
    filters: &[&str],
    transforms: &[&str],
) -> sluice_engine::Result<sluice_engine::model::Job> {
    if let SinkConfig::BigQuery(c) = &destination {
        env.engine
            .set_bigquery_endpoint(Some(c.endpoint.clone()))
            .unwrap();
    }
    let mut req = env.request("o", "o_*.csv");
    req.load_latest_only = false;
    req.table_name = Some("o".into());
    req.destination = destination;
    req.settings.row_rules = sluice_rules::RowRules {
        rules: rules.iter().map(|r| r.parse().unwrap()).collect(),
        filters: filters.iter().map(|f| f.to_string()).collect(),
        transforms: transforms.iter().map(|t| t.parse().unwrap()).collect(),
    };
    env.engine.create_job(req).await
}

async fn transforms_filters_and_rules_load(destination: SinkConfig) {
    let env = Env::new().await;
    env.write("o_1.csv", ORDERS, 2);
    job(
        &env,
        destination,
        &[
            "accepted(currency: EUR, USD)",
            "regex(code: ^[A-Z]{3}$)",
            "unique(id)",
            "not_null(id)",
        ],
        &["note <> 'test'"],
        &["currency = upper(currency)", "note = trim(note)"],
    )
    .await
    .unwrap();
    let run = env.run_all("o").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 2), "{run:?}");
    let message = run.files[0].message.clone().unwrap_or_default();
    assert!(message.contains("1 row(s) filtered out"), "{message}");
    assert_eq!(
        rows(&env, "o", &["id", "currency", "note"]).await,
        vec![vec!["1", "EUR", "first"], vec!["3", "EUR", "third"]]
    );
}

/// A transform makes a column of another type than the file's: a date in the file's own
/// format parsed into DATE, a count of cents into a decimal amount. The table's columns
/// have the transforms' types; the files are still read (and gated) as their own.
async fn a_transform_retypes_its_column(destination: SinkConfig) {
    let env = Env::new().await;
    env.write(
        "o_1.csv",
        "id,day,cents\n1,19/11/2024,1050\n2,03/02/2025,7\n",
        2,
    );
    let job = job(
        &env,
        destination,
        &["not_null(day)"],
        &[],
        &[
            "day = strptime(day, '%d/%m/%Y')::DATE",
            "cents = cents / 100",
        ],
    )
    .await
    .unwrap();
    let types: Vec<(String, String, Option<String>)> = job
        .schema
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.ty.to_string(),
                c.read_as.map(|t| t.to_string()),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("id".into(), "INT64".into(), None),
            ("day".into(), "DATE".into(), Some("STRING".into())),
            ("cents".into(), "FLOAT64".into(), Some("INT64".into())),
        ]
    );
    let run = env.run_all("o").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 2), "{run:?}");
    // A second file of the same shape passes the gate: it is read as the file's types.
    env.write("o_2.csv", "id,day,cents\n3,31/12/2025,1\n", 1);
    let run = env.run_all("o").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 1), "{run:?}");
    let got = rows(&env, "o", &["id", "day", "cents"]).await;
    let got: Vec<(String, String, f64)> = got
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].parse().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("1".into(), "2024-11-19".into(), 10.5),
            ("2".into(), "2025-02-03".into(), 0.07),
            ("3".into(), "2025-12-31".into(), 0.01),
        ]
    );
    // The transform cannot be taken away while the column is of its type.
    let update = sluice_engine::model::JobUpdate {
        transforms: Some(Vec::new()),
        ..Default::default()
    };
    let e = env.engine.update_job("o", update).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("column day is made DATE by the job's transform of its STRING values"),
        "{e}"
    );
}

on_every_destination!(
    "rules";
    transforms_filters_and_rules_load,
    a_transform_retypes_its_column
);

/// Each kind of rule on a file that breaks it: the file fails naming the record and the
/// rule, and nothing of it is loaded.
#[tokio::test]
async fn each_rule_kind_fails_the_file_that_breaks_it() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "positive: amount > 0",
            "record 2 breaks rule positive",
            "1,EUR,10,ABC,a\n2,EUR,-5,ABD,b\n",
        ),
        (
            "not_null(note)",
            "record 1 breaks rule not_null_note (note is NULL)",
            "1,EUR,10,ABC,\n",
        ),
        (
            "unique(id)",
            "record 3 breaks rule unique_id (id = 1)",
            "1,EUR,1,ABC,a\n2,EUR,1,ABC,b\n1,EUR,1,ABC,c\n",
        ),
        (
            "accepted(currency: EUR, USD)",
            "record 1 breaks rule accepted_currency (currency = GBP)",
            "1,GBP,1,ABC,a\n",
        ),
        (
            "regex(code: ^[A-Z]{3}$)",
            "record 2 breaks rule regex_code (code = abcd)",
            "1,EUR,1,ABC,a\n2,EUR,1,abcd,b\n",
        ),
        (
            "range(amount: 0, 100)",
            "record 1 breaks rule range_amount (amount = 101)",
            "1,EUR,101,ABC,a\n",
        ),
    ];
    for (i, (rule, expected, body)) in cases.iter().enumerate() {
        let env = Env::new().await;
        // The job's schema comes from a file that passes every rule.
        env.write(
            "o_0.csv",
            "id,currency,amount,code,note\n9,EUR,50,QQQ,z\n",
            3,
        );
        job(&env, SinkConfig::default(), &[rule], &[], &[])
            .await
            .unwrap();
        env.write(
            "o_1.csv",
            &format!("id,currency,amount,code,note\n{body}"),
            2,
        );
        let run = env.run_all("o").await;
        assert_eq!(
            (run.files_loaded, run.files_failed),
            (1, 1),
            "case {i}: {run:?}"
        );
        let failed = run.files.iter().find(|f| f.file_path == "o_1.csv").unwrap();
        let message = failed.message.clone().unwrap_or_default();
        assert!(message.contains(expected), "case {i} ({rule}): {message}");
        assert_eq!(
            env.rows("o").await,
            1,
            "case {i}: nothing of the failed file loads"
        );
    }
}

#[tokio::test]
async fn rules_that_do_not_read_are_refused_when_the_job_is_made_or_changed() {
    let env = Env::new().await;
    env.write("o_1.csv", ORDERS, 2);
    let e = job(&env, SinkConfig::default(), &["bad: nope > 1"], &[], &[])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let e = job(
        &env,
        SinkConfig::default(),
        &[],
        &[],
        &["total = amount * 2"],
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("no column total"), "{e}");
    job(&env, SinkConfig::default(), &[], &[], &[])
        .await
        .unwrap();
    let update = sluice_engine::model::JobUpdate {
        filters: Some(vec!["amount >".into()]),
        ..Default::default()
    };
    let e = env.engine.update_job("o", update).await.unwrap_err();
    assert!(e.to_string().to_lowercase().contains("syntax"), "{e}");
    let update = sluice_engine::model::JobUpdate {
        rules: Some(vec!["positive: amount > 0".parse().unwrap()]),
        ..Default::default()
    };
    let job = env.engine.update_job("o", update).await.unwrap();
    assert_eq!(job.settings.row_rules.rules.len(), 1);
    let history = env.engine.job_history("o").await.unwrap();
    assert_eq!(history[0].changes[0].field, "rules");
    assert_eq!(history[0].changes[0].new, "positive: amount > 0");
}

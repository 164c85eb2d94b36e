//! A table changed to hold a job's evolved columns, on every sink: columns added to a table
//! with rows, types widened, NOT NULL dropped; each change made once however often asked.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, ListBuilder, RecordBatch};
use arrow::util::display::ArrayFormatter;
use sluice_core::names::TableName;
use sluice_core::schema::{Column, ColumnType, Mode, TableChange, WarehouseType, arrow_schema};
use sluice_sinks::{BuiltSink, LoadMode};

use crate::arrays::{repeated, rows_of};
use crate::suite::{load, stream};

/// Each value of a column read back, as text (`NULL` for none).
fn texts(a: &ArrayRef) -> Vec<String> {
    // Instants in UTC by its offset: the formatter reads named zones only with chrono-tz.
    let a = match a.data_type() {
        arrow::datatypes::DataType::Timestamp(unit, Some(_)) => arrow::compute::cast(
            a,
            &arrow::datatypes::DataType::Timestamp(*unit, Some("+00:00".into())),
        )
        .unwrap(),
        _ => a.clone(),
    };
    let f = ArrayFormatter::try_new(
        a.as_ref(),
        &arrow::util::display::FormatOptions::default().with_null("NULL"),
    )
    .unwrap();
    (0..a.len()).map(|i| f.value(i).to_string()).collect()
}

/// The table's rows as text, by column name, sorted.
async fn rows(sink: &dyn BuiltSink, table: &TableName, names: &[&str]) -> Vec<Vec<String>> {
    let back = sink.preview(table, 100).await.unwrap();
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
    let cols: Vec<Vec<String>> = names
        .iter()
        .map(|n| texts(back.column(back.schema().index_of(n).unwrap())))
        .collect();
    let mut rows: Vec<Vec<String>> = (0..back.num_rows())
        .map(|r| cols.iter().map(|c| c[r].clone()).collect())
        .collect();
    rows.sort();
    rows
}

/// Columns added to a table with rows: the old rows hold NULL there, the table is the job's
/// whatever order it lists the columns in, and batches load by column name.
pub async fn adds_columns_and_loads_by_name(sink: &dyn BuiltSink) {
    let table = TableName::parse("grown").unwrap();
    let id = Column::new("id", WarehouseType::Int64);
    sink.ensure_table(&table, std::slice::from_ref(&id))
        .await
        .unwrap();
    let ids: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![1, 2]));
    let first = RecordBatch::try_new(arrow_schema(std::slice::from_ref(&id)), vec![ids]).unwrap();
    sink.load(
        &table,
        std::slice::from_ref(&id),
        &load("g1"),
        LoadMode::Append,
        stream(vec![Ok(first)]),
    )
    .await
    .unwrap();

    let note = Column::new("note", WarehouseType::String);
    let tags = repeated(WarehouseType::Int64);
    let added = [note.clone(), tags.clone()];
    let change = TableChange {
        add: added.to_vec(),
        ..TableChange::default()
    };
    sink.alter_table(&table, &change).await.unwrap();
    sink.alter_table(&table, &change).await.unwrap(); // nothing added twice
    // The job lists its columns in another order than the table now has them.
    let columns = vec![note, id, tags.clone()];
    sink.ensure_table(&table, &columns).await.unwrap();
    let mut t = ListBuilder::new(Int64Builder::new());
    t.values().append_value(5);
    t.append(true);
    let batch = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![
            Arc::new(arrow::array::StringArray::from(vec!["new"])),
            Arc::new(arrow::array::Int64Array::from(vec![3])),
            Arc::new(t.finish()),
        ],
    )
    .unwrap();
    sink.load(
        &table,
        &columns,
        &load("g2"),
        LoadMode::Append,
        stream(vec![Ok(batch)]),
    )
    .await
    .unwrap();

    let back = sink.preview(&table, 10).await.unwrap();
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
    let col = |name: &str| back.column(back.schema().index_of(name).unwrap()).clone();
    let f = |a: &ArrayRef| {
        let f = ArrayFormatter::try_new(
            a.as_ref(),
            &arrow::util::display::FormatOptions::default().with_null("NULL"),
        )
        .unwrap();
        (0..a.len())
            .map(|i| f.value(i).to_string())
            .collect::<Vec<_>>()
    };
    let mut rows: Vec<(String, String)> = f(&col("id")).into_iter().zip(f(&col("note"))).collect();
    rows.sort();
    assert_eq!(
        rows,
        [("1", "NULL"), ("2", "NULL"), ("3", "new")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let tags_back = rows_of(&col(&tags.name), WarehouseType::Int64);
    assert!(
        tags_back.contains(&Some(vec![Some("5".to_string())])),
        "{tags_back:?}"
    );
}

/// Types widened in a table with rows (INT64 → FLOAT64, INT64 → NUMERIC, and DATE →
/// TIMESTAMP where the destination changes it in place) and a REQUIRED column relaxed: the
/// old rows keep their values in the new types, and a row without the relaxed column loads.
pub async fn widens_types_and_relaxes_columns(sink: &dyn BuiltSink, widens_dates: bool) {
    let table = TableName::parse("widened").unwrap();
    let id = Column {
        mode: Mode::Required,
        ..Column::new("id", WarehouseType::Int64)
    };
    let columns = vec![
        id.clone(),
        Column::new("amount", WarehouseType::Int64),
        Column::new("total", WarehouseType::Int64),
        Column::new("day", WarehouseType::Date),
    ];
    sink.ensure_table(&table, &columns).await.unwrap();
    let batch = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![
            Arc::new(arrow::array::Int64Array::from(vec![1])),
            Arc::new(arrow::array::Int64Array::from(vec![5])),
            Arc::new(arrow::array::Int64Array::from(vec![7])),
            Arc::new(arrow::array::Date32Array::from(vec![19_723])), // 2024-01-01
        ],
    )
    .unwrap();
    sink.load(
        &table,
        &columns,
        &load("w1"),
        LoadMode::Append,
        stream(vec![Ok(batch)]),
    )
    .await
    .unwrap();

    let ty = |t| ColumnType::new(t, Mode::Nullable);
    let mut change = TableChange {
        retype: vec![
            (
                "amount".into(),
                ty(WarehouseType::Int64),
                ty(WarehouseType::Float64),
            ),
            (
                "total".into(),
                ty(WarehouseType::Int64),
                ty(WarehouseType::Numeric),
            ),
        ],
        relax: vec!["id".into()],
        ..TableChange::default()
    };
    let dated = (
        "day".to_string(),
        ty(WarehouseType::Date),
        ty(WarehouseType::Timestamp),
    );
    if widens_dates {
        change.retype.push(dated);
    } else {
        // Refused before anything changes, naming the column.
        let refused = TableChange {
            retype: vec![dated],
            ..TableChange::default()
        };
        let e = sink.alter_table(&table, &refused).await.unwrap_err();
        assert!(e.to_string().contains("column day"), "{e}");
    }
    sink.alter_table(&table, &change).await.unwrap();
    sink.alter_table(&table, &change).await.unwrap(); // a retry changes nothing twice

    let mut evolved = vec![
        Column::new("id", WarehouseType::Int64),
        Column::new("amount", WarehouseType::Float64),
        Column::new("total", WarehouseType::Numeric),
        Column::new(
            "day",
            if widens_dates {
                WarehouseType::Timestamp
            } else {
                WarehouseType::Date
            },
        ),
    ];
    sink.ensure_table(&table, &evolved).await.unwrap();
    // A row without an id: the column is nullable now.
    evolved.remove(0);
    let day: ArrayRef = if widens_dates {
        Arc::new(
            arrow::array::TimestampMicrosecondArray::from(vec![None::<i64>])
                .with_timezone(sluice_core::schema::UTC),
        )
    } else {
        Arc::new(arrow::array::Date32Array::from(vec![None::<i32>]))
    };
    let batch = RecordBatch::try_new(
        arrow_schema(&evolved),
        vec![
            Arc::new(arrow::array::Float64Array::from(vec![2.5])),
            Arc::new(
                arrow::array::Decimal128Array::from(vec![1_500_000_000i128])
                    .with_precision_and_scale(38, 9)
                    .unwrap(),
            ),
            day,
        ],
    )
    .unwrap();
    sink.load(
        &table,
        &evolved,
        &load("w2"),
        LoadMode::Append,
        stream(vec![Ok(batch)]),
    )
    .await
    .unwrap();
    let got = rows(sink, &table, &["id", "amount", "total"]).await;
    let as_f64 = |s: &str| s.parse::<f64>().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let old = got.iter().find(|r| r[0] == "1").expect("the old row");
    let new = got
        .iter()
        .find(|r| r[0] == "NULL")
        .expect("the row without an id");
    assert_eq!((as_f64(&old[1]), as_f64(&old[2])), (5.0, 7.0), "{got:?}");
    assert_eq!((as_f64(&new[1]), as_f64(&new[2])), (2.5, 1.5), "{got:?}");
    if widens_dates {
        let day = &rows(sink, &table, &["id", "day"]).await;
        let old = day.iter().find(|r| r[0] == "1").unwrap();
        assert!(old[1].starts_with("2024-01-01T00:00:00"), "{day:?}");
        assert!(
            old[1].ends_with('Z') || old[1].ends_with("+00:00"),
            "{day:?}"
        );
    }
}

/// A user's edit of a table with rows: a column dropped with its values, one renamed and
/// widened under its new name; asked again (a crash before the catalog recorded it), the
/// table changes nothing twice.
pub async fn renames_and_drops_columns(sink: &dyn BuiltSink) {
    let table = TableName::parse("edited").unwrap();
    let before = [
        Column::new("id", WarehouseType::Int64),
        Column::new("amt", WarehouseType::Int64),
        Column::new("note", WarehouseType::String),
    ];
    sink.ensure_table(&table, &before).await.unwrap();
    let first = RecordBatch::try_new(
        arrow_schema(&before),
        vec![
            Arc::new(arrow::array::Int64Array::from(vec![1])),
            Arc::new(arrow::array::Int64Array::from(vec![5])),
            Arc::new(arrow::array::StringArray::from(vec!["a"])),
        ],
    )
    .unwrap();
    sink.load(
        &table,
        &before,
        &load("e1"),
        LoadMode::Append,
        stream(vec![Ok(first)]),
    )
    .await
    .unwrap();

    let change = TableChange {
        drop: vec!["note".into()],
        rename: vec![("amt".into(), "amount".into())],
        retype: vec![(
            "amount".into(),
            ColumnType::new(WarehouseType::Int64, Mode::Nullable),
            ColumnType::new(WarehouseType::Float64, Mode::Nullable),
        )],
        ..TableChange::default()
    };
    sink.alter_table(&table, &change).await.unwrap();
    sink.alter_table(&table, &change).await.unwrap(); // a retry changes nothing twice

    let after = [
        Column::new("id", WarehouseType::Int64),
        Column::new("amount", WarehouseType::Float64),
    ];
    // Exactly the edited columns: `note` is gone, `amt` is `amount`.
    sink.ensure_table(&table, &after).await.unwrap();
    let e = sink.ensure_table(&table, &before).await.unwrap_err();
    assert!(e.to_string().contains("amount"), "{e}");
    let second = RecordBatch::try_new(
        arrow_schema(&after),
        vec![
            Arc::new(arrow::array::Int64Array::from(vec![2])),
            Arc::new(arrow::array::Float64Array::from(vec![2.5])),
        ],
    )
    .unwrap();
    sink.load(
        &table,
        &after,
        &load("e2"),
        LoadMode::Append,
        stream(vec![Ok(second)]),
    )
    .await
    .unwrap();
    let got = rows(sink, &table, &["id", "amount"]).await;
    let amounts: Vec<(String, f64)> = got
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(
        amounts,
        [("1".to_string(), 5.0), ("2".to_string(), 2.5)],
        "{got:?}"
    );
}

//! Behaviour every sink must have, listed once in [`conformance!`] and run on every sink.
//! Each case takes a fresh sink.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array,
    Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use futures::StreamExt;
use sluice_core::format::BatchStream;
use sluice_core::names::TableName;
use sluice_core::schema::lineage;
use sluice_core::schema::{
    Column, Mode, NUMERIC_PRECISION, NUMERIC_SCALE, UTC, WarehouseType, arrow_schema,
};
use sluice_sinks::{BuiltSink, FileLoad, Load, LoadMode, Part};

pub use crate::arrays::arrays_of_every_type_round_trip;
pub use crate::dedup::rows_are_deduplicated_by_key_within_and_across_loads;
pub use crate::evolution::{
    adds_columns_and_loads_by_name, renames_and_drops_columns, widens_types_and_relaxes_columns,
};
pub use crate::quarantine::rejected_rows_commit_with_the_file_and_only_with_it;

fn all_types() -> Vec<Column> {
    WarehouseType::ALL
        .iter()
        .map(|t| Column::new(format!("c_{}", t.as_str().to_lowercase()), *t))
        .collect()
}

fn batch_of_all_types() -> RecordBatch {
    let columns = all_types();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| -> ArrayRef {
            match c.ty {
                WarehouseType::String => {
                    Arc::new(StringArray::from(vec![Some("héllo, wörld ✓"), None]))
                }
                WarehouseType::Int64 => Arc::new(Int64Array::from(vec![Some(i64::MAX), None])),
                WarehouseType::Float64 => Arc::new(Float64Array::from(vec![Some(-1.5e300), None])),
                WarehouseType::Numeric => Arc::new(
                    Decimal128Array::from(vec![
                        Some(12_345_678_901_234_567_890_123_456_789i128),
                        None,
                    ])
                    .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                    .unwrap(),
                ),
                WarehouseType::Bool => Arc::new(BooleanArray::from(vec![Some(true), None])),
                WarehouseType::Date => Arc::new(Date32Array::from(vec![Some(20_046), None])),
                WarehouseType::Timestamp => Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_732_003_200_000_000), None])
                        .with_timezone(UTC),
                ),
                WarehouseType::Json => {
                    Arc::new(StringArray::from(vec![Some("{\"a\":[1,2]}"), None]))
                }
                WarehouseType::Bytes => {
                    Arc::new(BinaryArray::from(vec![Some(&b"\x00\xff"[..]), None]))
                }
            }
        })
        .collect();
    RecordBatch::try_new(arrow_schema(&columns), arrays).unwrap()
}

fn json_values(a: &dyn Array) -> Vec<Option<serde_json::Value>> {
    let a = a.as_any().downcast_ref::<StringArray>().unwrap();
    a.iter()
        .map(|v| v.map(|v| serde_json::from_str(v).unwrap()))
        .collect()
}

pub fn stream(batches: Vec<Result<RecordBatch, sluice_core::Error>>) -> BatchStream {
    futures::stream::iter(batches).boxed()
}

pub fn load(id: &str) -> FileLoad {
    FileLoad {
        load_id: id.into(),
        file_path: format!("{id}.csv"),
        file_version: "v1".into(),
    }
}

pub fn ints(n: i64) -> (Vec<Column>, RecordBatch) {
    let columns = vec![Column::new("id", WarehouseType::Int64)];
    let batch = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![Arc::new(Int64Array::from_iter_values(0..n))],
    )
    .unwrap();
    (columns, batch)
}

/// What a case needs to know about the sink under test.
pub struct Fixture {
    pub sink: Box<dyn BuiltSink>,
    /// How the destination names an INT64 column's type (`BIGINT`, `bigint`, `INT64`).
    pub int64: &'static str,
    /// Types a stand-in server stores differently from the real one: loaded, not compared.
    pub unread: &'static [WarehouseType],
    /// The destination keeps a NULL inside an array (BigQuery's arrays cannot hold one).
    pub arrays_hold_nulls: bool,
    /// The destination changes a DATE column to TIMESTAMP in place (BigQuery does not).
    pub widens_dates: bool,
    /// Kept alive for the test (a scratch database, a folder).
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Every case of the suite, on the sink `$fixture` (an async expression yielding a
/// [`Fixture`]) makes: `conformance!(postgres, postgres_fixture())`. The cases are listed
/// here once, with the fixture values each takes besides the sink.
macro_rules! conformance {
    ($sink:ident, $fixture:expr) => {
        mod $sink {
            $crate::suite::cases!($fixture;
                round_trips_every_type_with_nulls(unread),
                appends_and_replaces(),
                a_failed_load_leaves_nothing_behind(),
                refuses_a_table_with_other_columns(int64),
                schema_qualified_tables(),
                required_columns_reject_nulls_atomically(),
                text_with_delimiters_and_any_script_round_trips(),
                numerics_keep_full_precision_and_int64_its_range(),
                was_loaded_answers_after_a_load_and_after_an_interrupted_one(),
                reads_back_timestamps_as_utc_instants(),
                parts_commit_together_and_a_files_rows_are_replaced(),
                arrays_of_every_type_round_trip(arrays_hold_nulls),
                adds_columns_and_loads_by_name(),
                widens_types_and_relaxes_columns(widens_dates),
                renames_and_drops_columns(),
                rejected_rows_commit_with_the_file_and_only_with_it(),
                rows_are_deduplicated_by_key_within_and_across_loads(),
            );
        }
    };
}

/// One test per case: `case(fixture field, …)`.
macro_rules! cases {
    ($fixture:expr; $($case:ident($($arg:ident),*)),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let f: $crate::suite::Fixture = $fixture.await;
            $crate::suite::$case(f.sink.as_ref() $(, f.$arg)*).await;
            drop(f.guard);
        }
    )*};
}

pub(crate) use {cases, conformance};

/// Every type is loaded; the values of types in `unread` are not compared on reading back
/// (for a stand-in server that stores one type differently from the real one).
pub async fn round_trips_every_type_with_nulls(sink: &dyn BuiltSink, unread: &[WarehouseType]) {
    let table = TableName::parse("all_types").unwrap();
    let columns = all_types();
    sink.ensure_table(&table, &columns).await.unwrap();
    sink.ensure_table(&table, &columns).await.unwrap(); // idempotent
    let batch = batch_of_all_types();
    let receipt = sink
        .load(
            &table,
            &columns,
            &load("f1"),
            LoadMode::Append,
            stream(vec![Ok(batch)]),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 2);
    assert_eq!(sink.count_rows(&table).await.unwrap(), 2);
    assert_eq!(
        sink.was_loaded("f1").await.unwrap().map(|r| r.rows),
        Some(2)
    );
    assert_eq!(sink.was_loaded("f2").await.unwrap(), None);

    let back = sink.preview(&table, 10).await.unwrap();
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
    assert_eq!(back.num_rows(), 2);
    for (i, c) in columns.iter().enumerate() {
        // Compare as the loaded Arrow type; sinks may name zones differently ("UTC", "+00:00").
        if unread.contains(&c.ty) {
            continue;
        }
        let got = arrow::compute::cast(back.column(i), &c.ty.arrow_type()).unwrap();
        if c.ty == WarehouseType::Json {
            // JSON compares as values: a sink may store it in a normal form (`{"a": [1, 2]}`).
            let want = batch_of_all_types();
            assert_eq!(
                json_values(&got),
                json_values(want.column(i)),
                "column {}",
                c.name
            );
            continue;
        }
        assert_eq!(
            got.as_ref(),
            batch_of_all_types().column(i).as_ref(),
            "column {} ({})",
            c.name,
            c.ty
        );
    }
}

pub async fn appends_and_replaces(sink: &dyn BuiltSink) {
    let table = TableName::parse("t").unwrap();
    let (columns, batch) = ints(3);
    sink.ensure_table(&table, &columns).await.unwrap();
    for id in ["a", "b"] {
        sink.load(
            &table,
            &columns,
            &load(id),
            LoadMode::Append,
            stream(vec![Ok(batch.clone())]),
        )
        .await
        .unwrap();
    }
    assert_eq!(sink.count_rows(&table).await.unwrap(), 6);
    let (_, two) = ints(2);
    sink.load(
        &table,
        &columns,
        &load("c"),
        LoadMode::Replace,
        stream(vec![Ok(two)]),
    )
    .await
    .unwrap();
    assert_eq!(sink.count_rows(&table).await.unwrap(), 2);
    // The same load id cannot commit twice.
    let again = sink
        .load(
            &table,
            &columns,
            &load("c"),
            LoadMode::Append,
            stream(vec![Ok(batch)]),
        )
        .await;
    assert!(again.is_err());
    assert_eq!(sink.count_rows(&table).await.unwrap(), 2);
}

pub async fn a_failed_load_leaves_nothing_behind(sink: &dyn BuiltSink) {
    let table = TableName::parse("t").unwrap();
    let (columns, batch) = ints(5000);
    sink.ensure_table(&table, &columns).await.unwrap();
    sink.load(
        &table,
        &columns,
        &load("ok"),
        LoadMode::Append,
        stream(vec![Ok(batch.clone())]),
    )
    .await
    .unwrap();
    let failing = stream(vec![
        Ok(batch.clone()),
        Ok(batch.clone()),
        Err(sluice_core::Error::parse("bad.csv", "line 10001: broken")),
    ]);
    let err = sink
        .load(&table, &columns, &load("bad"), LoadMode::Replace, failing)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("bad.csv: line 10001: broken"),
        "{err}"
    );
    assert_eq!(
        sink.count_rows(&table).await.unwrap(),
        5000,
        "neither the delete nor the rows stayed"
    );
    assert_eq!(sink.was_loaded("bad").await.unwrap(), None);
}

/// `int64` is how the destination names the type of an INT64 column (`BIGINT`, `INT64`).
pub async fn refuses_a_table_with_other_columns(sink: &dyn BuiltSink, int64: &str) {
    let table = TableName::parse("t").unwrap();
    sink.ensure_table(&table, &[Column::new("id", WarehouseType::Int64)])
        .await
        .unwrap();
    let err = sink
        .ensure_table(&table, &[Column::new("id", WarehouseType::String)])
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains(&format!(
            "table t already exists with other columns (id {})",
            int64.to_lowercase()
        )),
        "{err}"
    );
    assert!(!err.is_transient());
}

pub async fn schema_qualified_tables(sink: &dyn BuiltSink) {
    let table = TableName::parse("raw.events").unwrap();
    let (columns, batch) = ints(4);
    sink.ensure_table(&table, &columns).await.unwrap();
    sink.load(
        &table,
        &columns,
        &load("q"),
        LoadMode::Append,
        stream(vec![Ok(batch)]),
    )
    .await
    .unwrap();
    assert_eq!(sink.count_rows(&table).await.unwrap(), 4);
    sink.drop_table(&table).await.unwrap();
    assert!(sink.count_rows(&table).await.is_err());
}

pub async fn required_columns_reject_nulls_atomically(sink: &dyn BuiltSink) {
    let table = TableName::parse("req").unwrap();
    let mut col = Column::new("id", WarehouseType::Int64);
    col.mode = Mode::Required;
    let columns = vec![col];
    sink.ensure_table(&table, &columns).await.unwrap();
    let good = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    )
    .unwrap();
    let bad = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![Arc::new(Int64Array::from(vec![Some(3), None]))],
    )
    .unwrap();
    assert!(bad.column(0).is_null(1));
    let err = sink
        .load(
            &table,
            &columns,
            &load("r"),
            LoadMode::Append,
            stream(vec![Ok(good), Ok(bad)]),
        )
        .await;
    assert!(err.is_err());
    assert_eq!(sink.count_rows(&table).await.unwrap(), 0);
}

pub async fn load_one_timestamp(sink: &dyn BuiltSink, text: &str) {
    let table = TableName::parse("ts").unwrap();
    let columns = vec![Column::new("at", WarehouseType::Timestamp)];
    sink.ensure_table(&table, &columns).await.unwrap();
    let micros = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros();
    let batch = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![Arc::new(
            TimestampMicrosecondArray::from(vec![micros]).with_timezone(UTC),
        )],
    )
    .unwrap();
    sink.load(
        &table,
        &columns,
        &load("ts"),
        LoadMode::Append,
        stream(vec![Ok(batch)]),
    )
    .await
    .unwrap();
}

/// Loads one row of `values` into a fresh table `name` of one column `v` of type `ty`.
async fn load_column(
    sink: &dyn BuiltSink,
    name: &str,
    ty: WarehouseType,
    values: ArrayRef,
) -> usize {
    let table = TableName::parse(name).unwrap();
    let columns = vec![Column::new("v", ty)];
    sink.ensure_table(&table, &columns).await.unwrap();
    let n = values.len();
    let batch = RecordBatch::try_new(arrow_schema(&columns), vec![values]).unwrap();
    sink.load(
        &table,
        &columns,
        &load(name),
        LoadMode::Append,
        stream(vec![Ok(batch.clone())]),
    )
    .await
    .unwrap();
    let back = sink.preview(&table, 100).await.unwrap();
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
    let got = arrow::compute::cast(back.column(0), &ty.arrow_type()).unwrap();
    assert_eq!(got.as_ref(), batch.column(0).as_ref(), "{name}");
    n
}

pub async fn text_with_delimiters_and_any_script_round_trips(sink: &dyn BuiltSink) {
    let values = StringArray::from(vec![
        Some("tab\there, newline\nthere, crlf\r\n, back\\slash \\N"),
        Some("\\N"),
        None,
        Some(""),
        Some("Grüße, 東京, Ελλάδα, עברית, 🚀 ☃"),
        Some("\"quoted\", 'single', a,b;c|d"),
    ]);
    assert_eq!(
        load_column(sink, "texts", WarehouseType::String, Arc::new(values)).await,
        6
    );
}

pub async fn numerics_keep_full_precision_and_int64_its_range(sink: &dyn BuiltSink) {
    let max = 10i128.pow(38) - 1;
    let numerics = Decimal128Array::from(vec![
        Some(max),
        Some(-max),
        Some(1),
        Some(-1),
        Some(0),
        None,
    ])
    .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
    .unwrap();
    load_column(sink, "numerics", WarehouseType::Numeric, Arc::new(numerics)).await;
    let ints = Int64Array::from(vec![
        Some(i64::MAX),
        Some(i64::MIN),
        Some(-1),
        Some(0),
        None,
    ]);
    load_column(sink, "bigints", WarehouseType::Int64, Arc::new(ints)).await;
    let floats = Float64Array::from(vec![
        Some(f64::MAX),
        Some(f64::MIN_POSITIVE),
        Some(0.1),
        Some(-0.0),
        Some(1e-300),
    ]);
    load_column(sink, "floats", WarehouseType::Float64, Arc::new(floats)).await;
}

pub async fn was_loaded_answers_after_a_load_and_after_an_interrupted_one(sink: &dyn BuiltSink) {
    let table = TableName::parse("t").unwrap();
    let (columns, batch) = ints(1000);
    sink.ensure_table(&table, &columns).await.unwrap();
    assert_eq!(sink.was_loaded("first").await.unwrap(), None);
    sink.load(
        &table,
        &columns,
        &load("first"),
        LoadMode::Append,
        stream(vec![Ok(batch.clone())]),
    )
    .await
    .unwrap();
    assert_eq!(
        sink.was_loaded("first").await.unwrap().map(|r| r.rows),
        Some(1000)
    );

    // The process stops mid-load: the load's future is dropped while rows are in flight.
    let endless = futures::stream::iter(vec![Ok(batch.clone()), Ok(batch.clone())])
        .chain(futures::stream::pending())
        .boxed();
    let interrupted = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        sink.load(
            &table,
            &columns,
            &load("second"),
            LoadMode::Replace,
            endless,
        ),
    )
    .await;
    assert!(interrupted.is_err(), "the load cannot finish");
    assert_eq!(sink.was_loaded("second").await.unwrap(), None);
    assert_eq!(sink.count_rows(&table).await.unwrap(), 1000);

    // The retry commits once.
    let receipt = sink
        .load(
            &table,
            &columns,
            &load("second"),
            LoadMode::Append,
            stream(vec![Ok(batch)]),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 1000);
    assert_eq!(sink.count_rows(&table).await.unwrap(), 2000);
    assert_eq!(
        sink.was_loaded("second").await.unwrap().map(|r| r.rows),
        Some(1000)
    );
}

/// A timestamp written with an offset is read back as the same instant, in UTC.
pub async fn reads_back_timestamps_as_utc_instants(sink: &dyn BuiltSink) {
    load_one_timestamp(sink, "2024-11-19T10:00:00+02:00").await;
    let back = sink
        .preview(&TableName::parse("ts").unwrap(), 10)
        .await
        .unwrap();
    let got =
        arrow::compute::cast(back[0].column(0), &WarehouseType::Timestamp.arrow_type()).unwrap();
    let got = got
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(got.value(0), 1_732_003_200_000_000); // 2024-11-19T08:00:00Z
}

/// A file's rows with the lineage columns, as the pipeline stamps them.
pub fn stamped(file: &str, ids: &[i64]) -> RecordBatch {
    let (columns, _) = ints(0);
    let batch = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![Arc::new(Int64Array::from(ids.to_vec()))],
    )
    .unwrap();
    lineage::Stamp::new(file, chrono::Utc::now())
        .apply(&batch)
        .unwrap()
}

fn part(file: &str, ids: &[i64], replace_rows: bool) -> Part {
    Part {
        file_path: file.into(),
        file_version: "v1".into(),
        replace_rows,
        batches: stream(vec![Ok(stamped(file, ids))]),
        rejects: None,
        clear_rejected: false,
    }
}

/// Several files commit as one load with one marker; a changed file's rows are replaced in
/// the same transaction; a part that fails leaves nothing; a forgotten file's rows go.
pub async fn parts_commit_together_and_a_files_rows_are_replaced(sink: &dyn BuiltSink) {
    let table = TableName::parse("parts").unwrap();
    let (mut columns, _) = ints(0);
    columns.extend(lineage::columns());
    sink.ensure_table(&table, &columns).await.unwrap();
    let load = |id: &str, mode, parts| Load {
        load_id: id.into(),
        mode,
        parts,
        dedup: None,
    };
    let receipt = sink
        .load_parts(
            &table,
            &columns,
            load(
                "two",
                LoadMode::Append,
                vec![
                    part("a.csv", &[1, 2], false),
                    part("b.csv", &[3, 4, 5], false),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!((receipt.rows, receipt.parts.clone()), (5, vec![2, 3]));
    assert_eq!(
        sink.was_loaded("two").await.unwrap().map(|r| r.rows),
        Some(5)
    );
    assert_eq!(sink.count_rows(&table).await.unwrap(), 5);

    // a.csv changed: its two rows are replaced by its one new row.
    sink.load_parts(
        &table,
        &columns,
        load("a2", LoadMode::Append, vec![part("a.csv", &[9], true)]),
    )
    .await
    .unwrap();
    assert_eq!(sink.count_rows(&table).await.unwrap(), 4);

    // A part that fails: neither part's rows, nor the marker.
    let failing = vec![
        part("c.csv", &[7], false),
        Part {
            file_path: "d.csv".into(),
            file_version: "v1".into(),
            replace_rows: true,
            batches: stream(vec![Err(sluice_core::Error::parse("d.csv", "bad row"))]),
            rejects: None,
            clear_rejected: false,
        },
    ];
    assert!(
        sink.load_parts(&table, &columns, load("bad", LoadMode::Append, failing))
            .await
            .is_err()
    );
    assert_eq!(sink.count_rows(&table).await.unwrap(), 4);
    assert_eq!(sink.was_loaded("bad").await.unwrap(), None);

    // Replace: the table becomes all of the load's parts.
    sink.load_parts(
        &table,
        &columns,
        load(
            "all",
            LoadMode::Replace,
            vec![part("e.csv", &[1], false), part("f.csv", &[2, 3], false)],
        ),
    )
    .await
    .unwrap();
    assert_eq!(sink.count_rows(&table).await.unwrap(), 3);

    // A file forgotten with its rows.
    sink.delete_file_rows(&table, "f.csv").await.unwrap();
    assert_eq!(sink.count_rows(&table).await.unwrap(), 1);
}

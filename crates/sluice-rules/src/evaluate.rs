//! The evaluator: one in-memory DuckDB per file, reading each batch through DuckDB's Arrow
//! table function (no copy into a table) and returning the transformed, filtered rows and
//! each rule's verdict as Arrow.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options, filter_record_batch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use duckdb::Connection;
use duckdb::vtab::ArrowBatchRegistration;
use duckdb::vtab::arrow::ArrowVTab;
use sluice_core::names::quote_ident;
use sluice_core::schema::{Column, WarehouseType, arrow_schema};

use crate::{Check, RowRules};

/// A row that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The row's record number in the file, from 1.
    pub record: u64,
    /// Its index in the batch it came in.
    pub row: usize,
    pub rule: String,
    /// The column a shorthand rule is about, and its value as text (cut at 1 KB).
    pub column: Option<String>,
    pub value: Option<String>,
}

/// One batch after the rules.
#[derive(Debug)]
pub struct Applied {
    /// The rows kept, transformed, in the job's columns and types.
    pub batch: RecordBatch,
    /// Rows the filters dropped.
    pub dropped: u64,
    /// Rows kept that broke a rule, in record order.
    pub violations: Vec<Violation>,
    /// Which of the batch's rows are in `batch`; `None` when all of them are.
    pub kept: Option<BooleanArray>,
}

/// A job's row rules over one file's batches.
pub struct Evaluator {
    conn: Connection,
    sql: String,
    columns: Vec<Column>,
    /// Rules evaluated in SQL: their names, in the order of their result columns.
    checked: Vec<(String, Option<String>)>,
    /// Unique rules: name, column index, values seen so far in the file.
    unique: Vec<(String, usize, HashSet<String>)>,
    has_filter: bool,
    rows_before: u64,
    /// Rows that break a rule are left out of the result (quarantined by the caller).
    drop_broken: bool,
}

const KEEP: &str = "__sluice_keep";

fn rule_column(i: usize) -> String {
    format!("__sluice_rule_{i}")
}

fn error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Evaluator {
    /// The evaluator of `rules` for batches of `columns`, its SQL checked against them. The
    /// batches hold each column as its files do ([`Column::as_read`]); the results hold the
    /// columns' own types.
    ///
    /// # Errors
    /// What is wrong with a rule, filter or transform: an unknown column, SQL DuckDB cannot
    /// read, a transform of a column the job does not have.
    pub fn new(rules: &RowRules, columns: &[Column]) -> Result<Self, String> {
        let conn = Connection::open_in_memory().map_err(error)?;
        // One thread: the rows come back in the order they went in.
        conn.execute_batch("SET threads = 1; SET preserve_insertion_order = true;")
            .map_err(error)?;
        conn.register_table_function::<ArrowVTab>("arrow")
            .map_err(error)?;
        for t in &rules.transforms {
            if !columns.iter().any(|c| c.name == t.column) {
                return Err(format!(
                    "transform {t}: the job has no column {}; its columns are {}",
                    t.column,
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let mut unique = Vec::new();
        let mut checked = Vec::new();
        let mut verdicts = Vec::new();
        for r in &rules.rules {
            if let Some(c) = r.check.column()
                && !columns.iter().any(|col| col.name == c)
            {
                return Err(format!("rule {r}: the job has no column {c}"));
            }
            match &r.check {
                Check::Unique { column } => {
                    let i = columns.iter().position(|c| &c.name == column).unwrap_or(0);
                    unique.push((r.name.clone(), i, HashSet::new()));
                }
                check => {
                    verdicts.push(format!(
                        "({}) AS {}",
                        check.sql(),
                        rule_column(checked.len())
                    ));
                    checked.push((r.name.clone(), check.column().map(str::to_string)));
                }
            }
        }
        let transformed: Vec<String> = columns
            .iter()
            .map(
                |c| match rules.transforms.iter().rev().find(|t| t.column == c.name) {
                    Some(t) => format!("({}) AS {}", t.sql, quote_ident(&c.name)),
                    None => quote_ident(&c.name),
                },
            )
            .collect();
        let keep = if rules.filters.is_empty() {
            None
        } else {
            Some(
                rules
                    .filters
                    .iter()
                    .map(|f| format!("COALESCE(({f}), FALSE)"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            )
        };
        let mut outer: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        outer.extend(verdicts);
        if let Some(k) = &keep {
            outer.push(format!("({k}) AS {KEEP}"));
        }
        let sql = format!(
            "SELECT {} FROM (SELECT {} FROM arrow(?)) AS row",
            outer.join(", "),
            transformed.join(", ")
        );
        let evaluator = Self {
            conn,
            sql,
            columns: columns.to_vec(),
            checked,
            unique,
            has_filter: keep.is_some(),
            rows_before: 0,
            drop_broken: false,
        };
        // Checked once on no rows: a wrong column or SQL is said now, not on the first file.
        // The rows come as their files hold them; a transform makes a column's type of it.
        let empty = RecordBatch::new_empty(arrow_schema(&sluice_core::schema::read_view(columns)));
        evaluator.query(&empty)?;
        Ok(evaluator)
    }

    /// The same evaluator, leaving the rows that break a rule out of its results: the
    /// caller quarantines them from its [`Applied::violations`].
    #[must_use]
    pub fn dropping_broken(mut self) -> Self {
        self.drop_broken = true;
        self
    }

    fn query(&self, batch: &RecordBatch) -> Result<Vec<RecordBatch>, String> {
        let registration = ArrowBatchRegistration::new(batch.clone());
        let mut stmt = self.conn.prepare_cached(&self.sql).map_err(error)?;
        let out: Vec<RecordBatch> = stmt.query_arrow([&registration]).map_err(error)?.collect();
        Ok(out)
    }

    /// Transforms, filters and checks one batch (the next of the file).
    ///
    /// # Errors
    /// DuckDB's, or a transformed value that does not fit its column, naming the column.
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<Applied, String> {
        let first = self.rows_before;
        self.rows_before += batch.num_rows() as u64;
        let target = arrow_schema(&self.columns);
        let mut results = self.query(batch)?;
        if results.is_empty() {
            return Ok(Applied {
                batch: RecordBatch::new_empty(target),
                dropped: 0,
                violations: Vec::new(),
                kept: None,
            });
        }
        let out = if results.len() == 1 {
            results.remove(0)
        } else {
            arrow::compute::concat_batches(&results[0].schema(), &results).map_err(error)?
        };
        if out.num_rows() != batch.num_rows() {
            return Err(format!(
                "the rules returned {} rows for {}",
                out.num_rows(),
                batch.num_rows()
            ));
        }
        let n = self.columns.len();
        let mut violations = Vec::new();
        let keep: Option<BooleanArray> = self
            .has_filter
            .then(|| out.column(out.num_columns() - 1).as_boolean().clone());
        let kept = |r: usize| keep.as_ref().is_none_or(|k| k.value(r));
        for (i, (name, column)) in self.checked.iter().enumerate() {
            let verdict = out.column(n + i).as_boolean();
            for r in 0..out.num_rows() {
                if verdict.is_valid(r) && !verdict.value(r) && kept(r) {
                    violations.push(Violation {
                        record: first + r as u64 + 1,
                        row: r,
                        rule: name.clone(),
                        value: column
                            .as_ref()
                            .and_then(|c| out.schema().index_of(c).ok())
                            .and_then(|c| text(out.column(c), r)),
                        column: column.clone(),
                    });
                }
            }
        }
        for (name, c, seen) in &mut self.unique {
            let array = out.column(*c);
            for r in 0..out.num_rows() {
                if let Some(v) = text(array, r)
                    && kept(r)
                    && !seen.insert(v.clone())
                {
                    violations.push(Violation {
                        record: first + r as u64 + 1,
                        row: r,
                        rule: name.clone(),
                        column: Some(self.columns[*c].name.clone()),
                        value: Some(v),
                    });
                }
            }
        }
        violations.sort_by_key(|v| v.record);
        let arrays = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let want = target.field(i).data_type();
                let got = out.column(i);
                if got.data_type() == want {
                    return Ok(Arc::clone(got));
                }
                cast_with_options(
                    got,
                    want,
                    &CastOptions {
                        safe: false,
                        ..Default::default()
                    },
                )
                .map_err(|e| {
                    format!(
                        "column {}: a transformed value does not fit {}: {e}",
                        c.name,
                        c.column_type()
                    )
                })
            })
            .collect::<Result<Vec<ArrayRef>, String>>()?;
        let mut result = RecordBatch::try_new(Arc::clone(&target), arrays).map_err(error)?;
        let mut dropped = 0;
        if let Some(k) = &keep {
            dropped = k.iter().filter(|v| !v.unwrap_or(false)).count() as u64;
        }
        let mask = if self.drop_broken && !violations.is_empty() {
            let broken: HashSet<usize> = violations.iter().map(|v| v.row).collect();
            Some(BooleanArray::from(
                (0..out.num_rows())
                    .map(|r| kept(r) && !broken.contains(&r))
                    .collect::<Vec<bool>>(),
            ))
        } else {
            keep.clone()
        };
        if let Some(mask) = &mask {
            result = filter_record_batch(&result, mask).map_err(error)?;
        }
        Ok(Applied {
            batch: result,
            dropped,
            violations,
            kept: mask,
        })
    }
}

/// A value as text, cut at 1 KB; `None` for NULL.
fn text(array: &ArrayRef, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let f = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).ok()?;
    let mut v = f.value(row).to_string();
    if v.len() > 1024 {
        let mut cut = 1024;
        while !v.is_char_boundary(cut) {
            cut -= 1;
        }
        v.truncate(cut);
    }
    Some(v)
}

/// The type DuckDB gives the SQL expression `sql` over rows of `columns`, as the warehouse
/// type a column of it has: for a column set from an expression.
///
/// # Errors
/// SQL DuckDB cannot read, or a type no warehouse column holds (cast it).
pub fn result_type(sql: &str, columns: &[Column]) -> Result<WarehouseType, String> {
    Ok(expression_type(sql, columns)?.unwrap_or(WarehouseType::String))
}

/// [`result_type`], `None` for an expression DuckDB types as NULL (a NULL constant).
///
/// # Errors
/// As [`result_type`].
pub fn expression_type(sql: &str, columns: &[Column]) -> Result<Option<WarehouseType>, String> {
    use arrow::datatypes::DataType as D;
    let conn = Connection::open_in_memory().map_err(error)?;
    conn.register_table_function::<ArrowVTab>("arrow")
        .map_err(error)?;
    let empty = RecordBatch::new_empty(arrow_schema(columns));
    let registration = ArrowBatchRegistration::new(empty);
    let mut stmt = conn
        .prepare(&format!("SELECT ({sql}) AS v FROM arrow(?) AS row"))
        .map_err(error)?;
    let arrow = stmt.query_arrow([&registration]).map_err(error)?;
    let schema = arrow.get_schema();
    let ty = schema.field(0).data_type();
    Ok(Some(match ty {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 => {
            WarehouseType::Int64
        }
        D::Float16 | D::Float32 | D::Float64 => WarehouseType::Float64,
        D::Decimal128(..) | D::Decimal256(..) | D::UInt64 => WarehouseType::Numeric,
        D::Null => return Ok(None),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => WarehouseType::String,
        D::Boolean => WarehouseType::Bool,
        D::Date32 | D::Date64 => WarehouseType::Date,
        D::Timestamp(..) => WarehouseType::Timestamp,
        D::Binary | D::LargeBinary | D::BinaryView => WarehouseType::Bytes,
        other => {
            return Err(format!(
                "DuckDB types it {other}, which no warehouse column holds; cast it (CAST(… AS VARCHAR))"
            ));
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use sluice_core::schema::WarehouseType;

    fn columns() -> Vec<Column> {
        vec![
            Column::new("id", WarehouseType::Int64),
            Column::new("code", WarehouseType::String),
        ]
    }

    fn batch(ids: Vec<Option<i64>>, codes: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_new(
            arrow_schema(&columns()),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(codes)),
            ],
        )
        .unwrap()
    }

    fn rules(rules: &[&str], filters: &[&str], transforms: &[&str]) -> RowRules {
        RowRules {
            rules: rules.iter().map(|r| r.parse().unwrap()).collect(),
            filters: filters.iter().map(|f| f.to_string()).collect(),
            transforms: transforms.iter().map(|t| t.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn transforms_filters_and_rules_in_order_with_record_numbers_across_batches() {
        let mut e = Evaluator::new(
            &rules(
                &["positive: id > 0", "accepted(code: EUR, USD)", "unique(id)"],
                &["id <> 99"],
                &["code = upper(trim(code))"],
            ),
            &columns(),
        )
        .unwrap();
        let a = e
            .apply(&batch(
                vec![Some(1), Some(-2), Some(99)],
                vec![Some(" eur "), Some("usd"), Some("x")],
            ))
            .unwrap();
        assert_eq!(a.batch.num_rows(), 2);
        assert_eq!(a.dropped, 1);
        assert_eq!(a.batch.column(1).as_string::<i32>().value(0), "EUR");
        assert_eq!(
            a.violations,
            vec![Violation {
                record: 2,
                row: 1,
                rule: "positive".into(),
                column: None,
                value: None
            }]
        );
        let b = e
            .apply(&batch(vec![Some(1), None], vec![Some("GBP"), None]))
            .unwrap();
        let found: Vec<(u64, &str)> = b
            .violations
            .iter()
            .map(|v| (v.record, v.rule.as_str()))
            .collect();
        // Record 4 repeats id 1 and has a code not accepted; record 5 is all NULL: passes.
        assert_eq!(found, vec![(4, "accepted_code"), (4, "unique_id")]);
        assert_eq!(b.violations[0].value.as_deref(), Some("GBP"));
    }

    #[test]
    fn rows_that_break_a_rule_can_be_left_out_for_quarantine() {
        let mut e = Evaluator::new(
            &rules(&["positive: id > 0"], &["id <> 99"], &[]),
            &columns(),
        )
        .unwrap()
        .dropping_broken();
        let a = e
            .apply(&batch(
                vec![Some(1), Some(-2), Some(99), Some(3)],
                vec![None, None, None, None],
            ))
            .unwrap();
        let kept: Vec<i64> = a
            .batch
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .to_vec();
        assert_eq!((kept, a.dropped), (vec![1, 3], 1));
        assert_eq!(a.violations.len(), 1);
        assert_eq!((a.violations[0].record, a.violations[0].row), (2, 1));
    }

    #[test]
    fn wrong_sql_and_unknown_columns_are_said_when_the_rules_are_made() {
        let e = Evaluator::new(&rules(&["bad: nope > 1"], &[], &[]), &columns())
            .err()
            .unwrap();
        assert!(e.contains("nope"), "{e}");
        let e = Evaluator::new(&rules(&["not_null(missing)"], &[], &[]), &columns())
            .err()
            .unwrap();
        assert!(e.contains("no column missing"), "{e}");
        let e = Evaluator::new(&rules(&[], &[], &["total = id * 2"]), &columns())
            .err()
            .unwrap();
        assert!(e.contains("no column total"), "{e}");
        let e = Evaluator::new(&rules(&[], &["id > AND"], &[]), &columns())
            .err()
            .unwrap();
        assert!(e.to_lowercase().contains("syntax"), "{e}");
    }

    #[test]
    fn a_transformed_value_that_does_not_fit_names_its_column() {
        let mut e = Evaluator::new(&rules(&[], &[], &["id = code"]), &columns()).unwrap();
        let err = e
            .apply(&batch(vec![Some(1)], vec![Some("abc")]))
            .unwrap_err();
        assert!(err.contains("column id"), "{err}");
    }

    #[test]
    fn an_expression_is_typed_as_duckdb_types_it() {
        assert_eq!(
            result_type("'crm'", &columns()).unwrap(),
            WarehouseType::String
        );
        assert_eq!(
            result_type("id * 2", &columns()).unwrap(),
            WarehouseType::Int64
        );
        assert_eq!(
            result_type("id / 2", &columns()).unwrap(),
            WarehouseType::Float64
        );
        assert_eq!(
            result_type("DATE '2024-01-01'", &columns()).unwrap(),
            WarehouseType::Date
        );
        assert!(
            result_type("nope + 1", &columns())
                .unwrap_err()
                .contains("nope")
        );
        assert!(
            result_type("[1, 2]", &columns())
                .unwrap_err()
                .contains("cast it")
        );
    }
}

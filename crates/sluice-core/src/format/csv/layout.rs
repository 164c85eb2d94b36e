//! Where a file with a header holds each of the job's columns: CSV columns are matched by
//! the header's names, so a file that orders them otherwise loads as the job's columns,
//! a column the job does not have is left out, and one the file lacks loads as NULL.

use std::sync::Arc;

use arrow::array::{ArrayRef, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::CsvOptions;
use crate::schema::{Column, arrow_schema, unique_names};
use crate::{Error, Result};

/// The job's columns in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    /// The file's columns, named as detection names them.
    pub(super) file_names: Vec<String>,
    /// For each job column, where the file has it.
    positions: Vec<Option<usize>>,
}

impl Layout {
    /// The layout of a file whose header is `header` for `columns`.
    pub(super) fn of(header: Vec<String>, columns: &[Column]) -> Self {
        let file_names = unique_names(header);
        let positions = columns
            .iter()
            .map(|c| {
                file_names
                    .iter()
                    .position(|n| *n == c.name)
                    .or_else(|| file_names.iter().position(|n| n == c.source_name()))
            })
            .collect();
        Self {
            file_names,
            positions,
        }
    }

    /// The file holds the job's columns, and only them, in the job's order.
    pub(super) fn is_identity(&self) -> bool {
        self.positions.len() == self.file_names.len()
            && self
                .positions
                .iter()
                .enumerate()
                .all(|(i, p)| *p == Some(i))
    }

    /// The schema to decode the file with (its own columns, each of the job's of the job's
    /// type in `read_as`, the others as text), and the projection that yields the job's
    /// columns the file has, in the job's order.
    pub(super) fn decoding(&self, read_as: &[Column]) -> (SchemaRef, Vec<usize>) {
        let fields: Vec<Field> = self
            .file_names
            .iter()
            .enumerate()
            .map(
                |(j, name)| match self.positions.iter().position(|p| *p == Some(j)) {
                    Some(i) => Field::new(
                        &read_as[i].name,
                        read_as[i].column_type().arrow_type(),
                        true,
                    ),
                    None => Field::new(name, DataType::Utf8, true),
                },
            )
            .collect();
        let projection = self.positions.iter().flatten().copied().collect();
        (Arc::new(Schema::new(fields)), projection)
    }

    /// A decoded batch (the projection's columns) as the job's columns in `read_as`, those
    /// the file lacks NULL.
    pub(super) fn arrange(
        &self,
        batch: &RecordBatch,
        read_as: &[Column],
        path: &str,
    ) -> Result<RecordBatch> {
        let mut present = batch.columns().iter();
        let arrays: Vec<ArrayRef> = self
            .positions
            .iter()
            .zip(read_as)
            .map(|(p, c)| match p {
                Some(_) => Arc::clone(present.next().expect("one decoded column per match")),
                None => new_null_array(&c.column_type().arrow_type(), batch.num_rows()),
            })
            .collect();
        RecordBatch::try_new(arrow_schema(read_as), arrays)
            .map_err(|e| Error::parse(path, e.to_string()))
    }
}

/// The header's names, once `head` (the file's text after any skipped rows) holds its
/// whole line; at the end of the file (`last`), whatever is left is the header. Comment
/// lines before it are passed over; a quoted name may hold a line end.
pub(super) fn header(head: &[u8], options: &CsvOptions, last: bool) -> Option<Vec<String>> {
    let quote = options.quote_byte();
    let mut start = 0;
    loop {
        let rest = &head[start..];
        let mut quoted = false;
        let end = rest.iter().position(|&b| {
            if b == quote {
                quoted = !quoted;
            }
            b == b'\n' && !quoted
        });
        let line = match end {
            Some(e) => &rest[..e],
            None if last => rest,
            None => return None,
        };
        let comment = options
            .comment
            .is_some_and(|c| line.first() == Some(&(c as u8)));
        if let (true, Some(e)) = (comment, end) {
            start += e + 1;
            continue;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(options.delimiter_byte())
            .quote(quote)
            .escape(options.escape.map(|e| e as u8))
            .from_reader(line);
        let record = reader.records().next()?.ok()?;
        return Some(record.iter().map(str::to_string).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::WarehouseType::{Int64, String as Text};

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_header_in_the_jobs_order_is_read_as_it_is() {
        let job = [Column::new("a", Int64), Column::new("b", Text)];
        assert!(Layout::of(names(&["a", "b"]), &job).is_identity());
        assert!(!Layout::of(names(&["b", "a"]), &job).is_identity());
        assert!(!Layout::of(names(&["a", "b", "c"]), &job).is_identity());
    }

    #[test]
    fn reordered_extra_and_missing_columns_map_by_name() {
        let job = [
            Column::new("a", Int64),
            Column::new("b", Text),
            Column::new("gone", Text),
        ];
        let layout = Layout::of(names(&["extra", "b", "a"]), &job);
        let (schema, projection) = layout.decoding(&job);
        assert_eq!(projection, vec![2, 1]);
        assert_eq!(schema.field(0).name(), "extra");
        assert_eq!(schema.field(2).data_type(), &DataType::Int64);
    }

    #[test]
    fn the_header_line_may_follow_comments_and_hold_quoted_line_ends() {
        let opts = CsvOptions {
            comment: Some('#'),
            ..Default::default()
        };
        assert_eq!(
            header(b"# note\nid,\"two\nlines\"\n1,2\n", &opts, false),
            Some(names(&["id", "two\nlines"]))
        );
        assert_eq!(header(b"id,na", &opts, false), None);
        assert_eq!(header(b"id,na", &opts, true), Some(names(&["id", "na"])));
    }
}

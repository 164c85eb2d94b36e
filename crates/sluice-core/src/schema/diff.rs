//! How a file's columns differ from a job's: added, removed, retyped and moved columns.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Column, ColumnType, DetectedColumn, Mode};

/// How a file's columns differ from a job's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDiff {
    pub added: Vec<Column>,
    pub removed: Vec<Column>,
    /// `(name, job's type, file's type)`.
    pub retyped: Vec<(String, ColumnType, ColumnType)>,
    /// Columns present in both whose position changed: `(name, job's position, file's position)`, 1-based.
    pub moved: Vec<(String, usize, usize)>,
}

impl SchemaDiff {
    /// The differences that change what a format's reader loads: none of the moves for a
    /// format that reads columns by name, none of the left-out nullable columns for one
    /// whose records may leave columns out (they load as NULL).
    ///
    /// A CSV file with a header has its columns matched by the header's names; one without
    /// is read by position.
    pub fn as_read_by(mut self, options: &crate::format::FormatOptions) -> Self {
        let format = options.info();
        let by_name = match options {
            crate::format::FormatOptions::Csv(csv) => csv.header(),
            _ => format.columns_by_name,
        };
        if by_name {
            self.moved.clear();
        }
        if format.missing_is_null && self.added.is_empty() {
            self.removed.retain(|c| c.mode == Mode::Required);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.retyped.is_empty()
            && self.moved.is_empty()
    }
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.added {
            writeln!(f, "  + {} {} (new in the file)", c.name, c.column_type())?;
        }
        for c in &self.removed {
            writeln!(
                f,
                "  - {} {} (missing from the file)",
                c.name,
                c.column_type()
            )?;
        }
        for (name, job, file) in &self.retyped {
            writeln!(f, "  ~ {name}: job has {job}, file has {file}")?;
        }
        for (name, job, file) in &self.moved {
            writeln!(
                f,
                "  ↕ {name}: job has it at position {job}, file at {file}"
            )?;
        }
        Ok(())
    }
}

/// Compares a file's detected columns with a job's reviewed columns.
///
/// A retyped column is reported only when the file's type does not load into the job's
/// (an INT64 column loads into FLOAT64, anything into STRING, an array into JSON), and a column the sample
/// saw no value of is never reported as retyped: the reader's cast decides for those.
pub fn diff(job: &[Column], file: &[DetectedColumn]) -> SchemaDiff {
    let mut d = SchemaDiff::default();
    for (jpos, jc) in job.iter().enumerate() {
        // By the file's name for the column: a job may load it under another.
        match file
            .iter()
            .position(|fc| fc.source_name() == jc.source_name())
        {
            None => d.removed.push(jc.clone()),
            Some(fpos) => {
                let fc = &file[fpos];
                let (job_type, file_type) = (jc.column_type(), fc.column_type());
                // An array whose sample held no value still tells its shape.
                let unseen = fc.all_null && job_type.repeated == file_type.repeated;
                if !unseen && !file_type.loads_into(job_type) {
                    d.retyped.push((jc.name.clone(), job_type, file_type));
                }
                if fpos != jpos {
                    d.moved.push((jc.name.clone(), jpos + 1, fpos + 1));
                }
            }
        }
    }
    for fc in file {
        if !job.iter().any(|jc| jc.source_name() == fc.source_name()) {
            d.added.push(fc.column());
        }
    }
    // When columns were added or removed, every later column moves; the moves add nothing.
    if !d.added.is_empty() || !d.removed.is_empty() {
        d.moved.clear();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::WarehouseType;

    fn detected(name: &str, ty: WarehouseType) -> DetectedColumn {
        DetectedColumn {
            name: name.into(),
            source_type: String::new(),
            bigquery_type: ty,
            bigquery_mode: Mode::Nullable,
            source: None,
            sample_values: vec![],
            nullable: true,
            all_null: false,
        }
    }

    #[test]
    fn diff_lists_added_removed_and_retyped_columns() {
        let job = vec![
            Column::new("id", WarehouseType::Int64),
            Column::new("amount", WarehouseType::Float64),
            Column::new("note", WarehouseType::String),
        ];
        let file = vec![
            detected("id", WarehouseType::Int64),
            detected("amount", WarehouseType::String),
            detected("channel", WarehouseType::String),
        ];
        let d = diff(&job, &file);
        assert_eq!(d.removed, vec![Column::new("note", WarehouseType::String)]);
        assert_eq!(d.added, vec![Column::new("channel", WarehouseType::String)]);
        assert_eq!(
            d.retyped,
            vec![(
                "amount".to_string(),
                ColumnType::new(WarehouseType::Float64, Mode::Nullable),
                ColumnType::new(WarehouseType::String, Mode::Nullable)
            )]
        );
        let text = d.to_string();
        assert!(text.contains("+ channel STRING"), "{text}");
        assert!(text.contains("- note STRING"), "{text}");
        assert!(
            text.contains("~ amount: job has FLOAT64, file has STRING"),
            "{text}"
        );
    }

    #[test]
    fn diff_accepts_widening_and_unseen_columns() {
        let job = vec![
            Column::new("id", WarehouseType::Float64),
            Column::new("code", WarehouseType::String),
            Column::new("when", WarehouseType::Int64),
        ];
        let mut unseen = detected("when", WarehouseType::String);
        unseen.all_null = true;
        let file = vec![
            detected("id", WarehouseType::Int64),
            detected("code", WarehouseType::Int64),
            unseen,
        ];
        assert!(diff(&job, &file).is_empty());
    }

    #[test]
    fn diff_reports_reordered_columns() {
        let job = vec![
            Column::new("a", WarehouseType::String),
            Column::new("b", WarehouseType::String),
        ];
        let file = vec![
            detected("b", WarehouseType::String),
            detected("a", WarehouseType::String),
        ];
        let d = diff(&job, &file);
        assert_eq!(d.moved.len(), 2);
        assert!(
            d.to_string()
                .contains("a: job has it at position 1, file at 2")
        );
    }

    #[test]
    fn an_array_is_retyped_unless_the_job_takes_arrays_or_json() {
        let mut tags = detected("tags", WarehouseType::Int64);
        tags.bigquery_mode = Mode::Repeated;
        let mut repeated = Column::new("tags", WarehouseType::Float64);
        repeated.mode = Mode::Repeated;
        assert!(diff(std::slice::from_ref(&repeated), std::slice::from_ref(&tags)).is_empty());
        let json = Column::new("tags", WarehouseType::Json);
        assert!(diff(&[json], std::slice::from_ref(&tags)).is_empty());
        let scalar = Column::new("tags", WarehouseType::Int64);
        let d = diff(&[scalar], std::slice::from_ref(&tags));
        assert!(
            d.to_string()
                .contains("~ tags: job has INT64, file has ARRAY<INT64>"),
            "{d}"
        );
        // A scalar where the job has an array is a change even when the sample saw no value.
        let mut unseen = detected("tags", WarehouseType::String);
        unseen.all_null = true;
        assert_eq!(diff(&[repeated], &[unseen]).retyped.len(), 1);
    }
}

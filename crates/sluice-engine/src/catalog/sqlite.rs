//! The SQLite catalog: one file, WAL mode, migrated on open. The default.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sluice_core::storage::{ConnectionConfig, FileEntry};
use sqlx::Row;

use std::collections::HashMap;

use super::sql::{JOB_COLUMNS, RUN_COLUMNS, catalog, db, is_unique_violation, to_json};
use super::{
    Adopted, ConnectionCatalog, FileFailure, IncidentCatalog, JobCatalog, Ledger, Promotion,
    RunCatalog, SchemaCatalog, SealedJob, tally,
};
use crate::alerts::{AlertKind, Incident};
use crate::error::Kind;
use crate::model::{
    ConnectionRecord, FieldChange, FileOutcome, Job, JobChange, JobSettings, LogLine, NewJob,
    NewSchemaVersion, ProcessedFile, Run, RunFile, RunStatus, RunTotals, SchemaVersion,
};
use crate::{Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A catalog in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
}

/// One file in one data directory.
impl super::Shared for SqliteCatalog {
    fn is_shared(&self) -> bool {
        false
    }
}

impl SqliteCatalog {
    /// Opens (creating and migrating) the catalog file.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| {
                Error::Catalog(format!("cannot open the catalog {}: {e}", path.display()))
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            Error::Catalog(format!(
                "cannot migrate the catalog {}: {e}",
                path.display()
            ))
        })?;
        Ok(Self { pool })
    }
}

catalog!(SqliteCatalog, SqliteRow, false);

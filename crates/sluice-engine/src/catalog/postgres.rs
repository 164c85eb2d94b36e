//! The PostgreSQL catalog: one database that several sluice processes share (each run holds
//! a lease; a file is claimed by a unique row), migrated on connect. Selected with
//! `--catalog postgres://…` or `SLUICE_CATALOG_URL`.

use std::time::Duration;

use sqlx_postgres::{PgPool, PgPoolOptions, PgRow};
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A catalog in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresCatalog {
    pool: PgPool,
}

/// Workers on several machines share it.
impl super::Shared for PostgresCatalog {
    fn is_shared(&self) -> bool {
        true
    }
}

impl PostgresCatalog {
    /// Connects (within 10 s) and migrates. The URL's password is never part of an error.
    pub async fn connect(url: &str) -> Result<Self> {
        let shown = sluice_core::secret::redact_password(url);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| Error::Catalog(format!("cannot connect to the catalog {shown}: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::Catalog(format!("cannot migrate the catalog {shown}: {e}")))?;
        Ok(Self { pool })
    }
}

catalog!(PostgresCatalog, PgRow, true);

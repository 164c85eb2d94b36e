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

use super::sql::{JOB_COLUMNS, RUN_COLUMNS, db, is_unique_violation, sql_catalog, to_json};
use super::{Catalog, Promotion, tally};
use crate::alerts::{AlertKind, Incident};
use crate::model::{
    ConnectionRecord, Destination, FileOutcome, Job, JobSettings, LogLine, NewJob, ProcessedFile,
    Run, RunFile, RunStatus,
};
use crate::{Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A catalog in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresCatalog {
    pool: PgPool,
}

impl PostgresCatalog {
    /// Connects (within 10 s) and migrates. The URL's password is never part of an error.
    pub async fn connect(url: &str) -> Result<Self> {
        let shown = redact_password(url);
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

/// `postgres://user:••••@host/db`.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(sluice_core::storage::config::REDACTED));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(an invalid URL)".into(),
    }
}

sql_catalog!(PostgresCatalog, PgRow, true);

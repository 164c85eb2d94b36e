//! The sluice engine: what the CLI, the API and the wizard all call.
//!
//! - [`Engine`] ([`engine`]): a thin façade over the parts below, each with explicit
//!   dependencies: [`connections`] (and what they hold), [`jobs`], the runner ([`run`]) and
//!   the path of one file through it ([`pipeline`]), the [`scheduler`], [`alerts`].
//! - [`catalog`]: where connections, jobs, runs, the ledger and incidents live (SQLite by
//!   default, PostgreSQL when shared), one trait per concern.
//! - [`plan`]: which files a run takes, as a pure function; [`schedule`]: schedules and
//!   their next fire times; [`lease`]: who holds a job.
//! - [`error`]: typed errors that each interface words for itself.
//!
//! Start at [`Engine::open`], [`Engine::create_job`] and [`Engine::run`].

pub mod access;
pub mod alerts;
pub mod catalog;
pub mod connections;
pub mod engine;
pub mod error;
pub mod files;
pub mod jobs;
mod keyring;
pub mod lease;
pub mod mapping;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod scheduler;
pub mod secrets;
mod sinks;
pub mod text;

pub use connections::{FileListing, ListedFile, validate_name};
pub use engine::Engine;
pub use error::{Error, Kind, Result};
pub use jobs::{JobRequest, load_id};
pub use run::{Progress, Quiet, RetryPolicy, RunOptions};

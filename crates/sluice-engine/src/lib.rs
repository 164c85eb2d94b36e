//! The sluice engine: what the CLI, the API and the wizard all call.
//!
//! - [`Engine`] ([`engine`]): connections, listings, detection, jobs, runs.
//! - [`catalog`]: where connections, jobs, runs and the ledger live (SQLite by default).
//! - [`plan`]: which files a run takes, as a pure function.
//! - [`run`]: the runner, and how a file is loaded exactly once.
//! - [`schedule`]: schedules and their next fire times; [`scheduler`]: starting due runs.
//!
//! Start at [`Engine::open`], [`Engine::create_job`] and [`Engine::run`].

pub mod alerts;
pub mod catalog;
pub mod engine;
pub mod error;
mod incidents;
pub mod lease;
pub mod model;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod scheduler;

pub use engine::{Engine, FileListing, JobRequest, ListedFile};
pub use error::{Error, Result};
pub use run::{Progress, Quiet, RunOptions};

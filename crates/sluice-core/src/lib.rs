//! The parts of sluice that know about files: where they are, what is in them, and what
//! their columns are.
//!
//! - [`storage`]: open a connection URL as an `object_store::ObjectStore`, list the files
//!   that match a prefix and a glob, newest first.
//! - [`format`]: one registry of formats (CSV, Parquet, JSON), each a module implementing
//!   [`format::Format`]: a sniffer that turns the head of a file into a
//!   [`schema::DetectedSchema`], and a reader that turns a whole file into a stream of Arrow
//!   record batches in the job's column types. Whole-file compression wraps any of them.
//! - [`schema`]: warehouse types, inference, fingerprints and diffs.
//! - [`secret`]: sealing credentials at rest, and [`secret::Secrets`], the one way settings
//!   seal, open and redact them; [`fields`]: settings described for forms.
//! - [`error`]: errors that name the file, line and column, with [`error::Hint`]s as data.
//!
//! Start with [`format::detect`] and [`format::read`]. Nothing here links a database.

pub mod error;
pub mod fault;
pub mod fields;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod names;
pub mod schema;
pub mod secret;
pub mod storage;

pub use error::{Error, Result};

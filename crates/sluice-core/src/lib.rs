//! The parts of sluice that know about files: where they are, what is in them, and what
//! their columns are.
//!
//! - [`storage`]: open a connection URL as an `object_store::ObjectStore`, list the files
//!   that match a prefix and a glob, newest first.
//! - [`format`]: CSV, Parquet and JSON. Each has a sniffer that turns the head of a file into a
//!   [`schema::DetectedSchema`], and a reader that turns a whole file into a stream of Arrow
//!   record batches in the job's column types.
//! - [`schema`]: warehouse types, inference, fingerprints and diffs.
//!
//! Start with [`format::detect`] and [`format::read`]. Nothing here links a database.

pub mod error;
pub mod fault;
pub mod format;
pub mod names;
pub mod schema;
pub mod secret;
pub mod storage;

pub use error::{Error, Result};

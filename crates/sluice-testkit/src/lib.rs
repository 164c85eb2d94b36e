//! What sluice's test suites share, written once:
//!
//! - [`peers`]: the real servers the tests run against (moto, fake-gcs-server, Azurite,
//!   PostgreSQL, local-bigquery, aiosmtpd), started once per test binary by
//!   `scripts/peers.sh`, and their settings;
//! - [`postgres`]: a scratch database per test on the PostgreSQL server, dropped after it;
//! - [`fixtures`]: small CSV files of transactions and files of a given age.
//!
//! Nothing here is a stand-in for a server: the suites talk to the real ones.

pub mod fixtures;
pub mod peers;
pub mod postgres;

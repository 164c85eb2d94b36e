//! `sluice demo`: a small, realistic drop of daily CSV files, loaded into DuckDB twice to
//! show that each file is loaded exactly once. Also the transactions generator the
//! benchmark uses.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use chrono::{Days, NaiveDate};
use clap::Args;
use sluice_engine::{Engine, Error as EngineError, JobRequest, Quiet, RunOptions};

use crate::output::{Printer, thousands};

const DEMO_CONNECTION: &str = "demo";
const DEMO_JOB: &str = "demo-transactions";
const DEMO_TABLE: &str = "transactions";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Days of files in the first drop.
    #[arg(long, default_value_t = 4)]
    days: u32,
    /// Rows per file.
    #[arg(long, default_value_t = 3000)]
    rows: u64,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// File to write.
    out: PathBuf,
    #[arg(long, default_value_t = 12_000_000)]
    rows: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The day the transactions happen on.
    #[arg(long, default_value = "2024-11-19")]
    day: NaiveDate,
}

/// SplitMix64: a tiny, fast generator whose output is fixed by its seed on every platform,
/// so generated files are byte-for-byte reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const CURRENCIES: [&str; 5] = ["USD", "EUR", "GBP", "JPY", "CHF"];
const STATUSES: [&str; 4] = ["completed", "completed", "pending", "failed"];
const COUNTRIES: [&str; 8] = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "NL"];
const NOTES: [&str; 8] = [
    "Monthly subscription renewal",
    "\"Refund, customer request\"",
    "Card payment",
    "\"Invoice 2024-118, net 30\"",
    "Gift card",
    "\"Paid in store, Main St.\"",
    "Online order",
    "Bank transfer",
];

pub const HEADER: &str =
    "transaction_id,account_id,amount,currency,status,created_at,is_refund,note,country,items";

/// Writes `rows` transactions of one day as CSV, with a header.
pub fn write_transactions(
    out: &mut impl Write,
    day: NaiveDate,
    rows: u64,
    first_id: u64,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = Rng(seed ^ (day.num_days_from_ce_u64() << 20));
    writeln!(out, "{HEADER}")?;
    let date = day.format("%Y-%m-%d").to_string();
    for i in 0..rows {
        let refund = rng.below(20) == 0;
        let cents = rng.below(500_000) + 1;
        let sign = if refund { "-" } else { "" };
        let secs = rng.below(86_400);
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let zone = match rng.below(10) {
            0 => "+01:00",
            1 => "-05:00",
            _ => "Z",
        };
        let note = if rng.below(5) == 0 {
            ""
        } else {
            rng.pick(&NOTES)
        };
        writeln!(
            out,
            "{},{},{sign}{}.{:02},{},{},{date}T{h:02}:{m:02}:{s:02}{zone},{},{note},{},{}",
            first_id + i,
            100_000 + rng.below(900_000),
            cents / 100,
            cents % 100,
            rng.pick(&CURRENCIES),
            if refund {
                "refunded"
            } else {
                rng.pick(&STATUSES)
            },
            refund,
            rng.pick(&COUNTRIES),
            1 + rng.below(12),
        )?;
    }
    Ok(())
}

trait DaysFromCe {
    fn num_days_from_ce_u64(&self) -> u64;
}
impl DaysFromCe for NaiveDate {
    fn num_days_from_ce_u64(&self) -> u64 {
        use chrono::Datelike;
        self.num_days_from_ce().max(0) as u64
    }
}

pub fn generate(args: &GenerateArgs) -> Result<()> {
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    write_transactions(&mut w, args.day, args.rows, 1, args.seed)?;
    w.flush()?;
    Ok(())
}

/// Writes one day's file with a modification time that orders the files by day.
fn write_day(dir: &Path, day: NaiveDate, index: u64, rows: u64) -> Result<PathBuf> {
    let path = dir.join(format!("transactions_{}.csv", day.format("%Y-%m-%d")));
    let mut w = BufWriter::new(std::fs::File::create(&path)?);
    write_transactions(&mut w, day, rows, 1 + index * rows, 7)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.set_modified(SystemTime::now() - Duration::from_secs(3600 * (100 - index)))?;
    Ok(path)
}

async fn reset(engine: &Engine, dir: &Path) -> Result<()> {
    match engine.delete_job(DEMO_JOB, true).await {
        Ok(()) | Err(EngineError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    match engine.delete_connection(DEMO_CONNECTION).await {
        Ok(()) | Err(EngineError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// The demo's drop folder: beside the data directory (`.sluice` → `.sluice-demo/drop`),
/// since no connection reads inside the data directory.
fn drop_dir(data_dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let data_dir = std::path::absolute(data_dir)?;
    let name = data_dir
        .file_name()
        .map_or_else(|| "sluice".into(), |n| n.to_string_lossy().into_owned());
    Ok(data_dir.with_file_name(format!("{name}-demo")).join("drop"))
}

pub async fn run(engine: &Engine, args: &DemoArgs, out: &Printer) -> Result<()> {
    let dir = drop_dir(engine.data_dir())?;
    reset(engine, &dir).await?;
    let first = NaiveDate::from_ymd_opt(2024, 11, 15).expect("valid date");
    let days = u64::from(args.days.max(1));
    out.line(&format!(
        "1. Writing {days} daily files of {} rows into {}",
        args.rows,
        dir.display()
    ));
    for i in 0..days {
        write_day(&dir, first + Days::new(i), i, args.rows)?;
    }

    let url = url_of(&dir);
    engine
        .add_connection_url(DEMO_CONNECTION, &url, &Default::default())
        .await?;
    out.line(&format!("2. Added connection '{DEMO_CONNECTION}' → {url}"));

    let job = engine
        .create_job(JobRequest {
            name: DEMO_JOB.into(),
            connection: DEMO_CONNECTION.into(),
            file_pattern: "transactions_*.csv".into(),
            load_latest_only: false,
            table_name: Some(DEMO_TABLE.into()),
            ..JobRequest::default()
        })
        .await?;
    out.line(&format!(
        "3. Created job '{}': pattern transactions_*.csv, all unprocessed files, into table {}; detected {} columns:",
        job.name,
        job.table_name,
        job.schema.len()
    ));
    out.line(&format!(
        "   {}",
        job.schema
            .iter()
            .map(|c| format!("{} {}", c.name, c.column_type()))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let quiet = Arc::new(Quiet);
    let r = engine
        .run(DEMO_JOB, RunOptions::default(), quiet.clone())
        .await?;
    out.line("4. First run: every file is new");
    out.run(&r);
    let r = engine
        .run(DEMO_JOB, RunOptions::default(), quiet.clone())
        .await?;
    out.line("5. Second run: nothing new, nothing loaded twice");
    out.run(&r);
    let next = first + Days::new(days);
    let path = write_day(&dir, next, days, args.rows)?;
    out.line(&format!(
        "6. A new file lands: {}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let r = engine.run(DEMO_JOB, RunOptions::default(), quiet).await?;
    out.line("7. Third run: only the new file");
    out.run(&r);

    let rows = engine.table_rows(DEMO_JOB).await?;
    let db = std::path::absolute(
        engine
            .data_dir()
            .join(sluice_engine::engine::WAREHOUSE_FILE),
    )?;
    out.line(&format!(
        "\nTable {} now holds {} rows ({} files × {} rows) in {}.",
        job.table_name,
        thousands(rows),
        days + 1,
        thousands(args.rows),
        db.display()
    ));
    out.line("Query it with the duckdb CLI or Python:");
    out.line(&format!(
        "  duckdb {} \"SELECT currency, count(*) AS n, sum(amount) AS total FROM {} GROUP BY currency ORDER BY n DESC\"",
        db.display(),
        job.table_name
    ));
    out.line(
        "See what happened: sluice runs demo-transactions, sluice jobs show demo-transactions",
    );
    Ok(())
}

fn url_of(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_reproducible_and_well_formed() {
        let day = NaiveDate::from_ymd_opt(2024, 11, 19).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_transactions(&mut a, day, 500, 1, 42).unwrap();
        write_transactions(&mut b, day, 500, 1, 42).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 500);
        assert!(rows.iter().all(|r| r.len() == 10));
        assert!(
            rows.iter().any(|r| r.get(7).unwrap().contains(',')),
            "some notes hold quoted commas"
        );
        assert!(
            rows.iter().any(|r| r.get(7).unwrap().is_empty()),
            "some notes are empty"
        );
    }
}

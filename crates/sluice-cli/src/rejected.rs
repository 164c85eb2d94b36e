//! `sluice rejected JOB`: the rows a job's files sent to the quarantine table, counted per
//! file and rule, and `--replay` to load them again after a rule or the schema changed.

use anyhow::Result;
use clap::Args;
use sluice_engine::Engine;

use crate::output::{Printer, thousands};

#[derive(Args, Debug)]
pub(crate) struct RejectedArgs {
    pub(crate) job: String,
    /// Also list the rows (file, line or record, column, error, raw values), up to this
    /// many.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) rows: usize,
    /// Load the quarantined rows again through the job's current schema and rules: those
    /// that pass load (each exactly once), those that fail stay quarantined with their new
    /// error. Done file by file, each in one transaction.
    #[arg(long)]
    pub(crate) replay: bool,
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) async fn rejected(engine: &Engine, a: RejectedArgs, out: &Printer) -> Result<()> {
    if a.replay {
        let run = engine.replay_rejected(&a.job).await?;
        if a.json {
            return out.json(&run);
        }
        if run.files_seen == 0 {
            out.line(&format!("job {} has no quarantined rows to replay", a.job));
        } else {
            out.run(&run);
        }
        return Ok(());
    }
    let rejected = engine.rejected(&a.job).await?;
    if a.json {
        return out.json(&rejected);
    }
    if rejected.total == 0 {
        out.line(&format!(
            "job {} has no quarantined rows ({} is empty or not made yet)",
            a.job, rejected.table
        ));
        return Ok(());
    }
    out.line(&format!(
        "{} row(s) quarantined in {}",
        thousands(rejected.total),
        rejected.table
    ));
    out.line(&format!(
        "  {:<40} {:<24} {:>8}",
        "FILE", "RULE OR ERROR", "ROWS"
    ));
    for c in &rejected.counts {
        out.line(&format!(
            "  {:<40} {:<24} {:>8}",
            c.file_path,
            c.reason,
            thousands(c.rows)
        ));
    }
    if a.rows > 0 {
        out.line("");
        for r in rejected.rows.iter().take(a.rows) {
            let at = match r.line_number {
                Some(l) => format!("line {l}"),
                None => format!("record {}", r.record_number),
            };
            let column = r
                .column_name
                .as_ref()
                .map(|c| format!(" column {c}"))
                .unwrap_or_default();
            out.line(&format!(
                "  {} {at}{column}: {}\n      {}",
                r.file_path, r.error_message, r.raw_text
            ));
        }
        if rejected.rows.len() > a.rows {
            out.line(&format!(
                "  … {} more (--rows N, or --json)",
                rejected.rows.len() - a.rows
            ));
        }
    }
    out.line(&format!(
        "after fixing the rule or the schema: sluice rejected {} --replay",
        a.job
    ));
    Ok(())
}

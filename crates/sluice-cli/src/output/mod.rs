//! How the CLI shows things: tables for people, JSON for machines, a progress bar on a
//! terminal.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{Cell, Table};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sluice_core::schema::DetectedSchema;
use sluice_core::storage::FileEntry;
use sluice_engine::FileListing;
use sluice_engine::model::{ConnectionRecord, Job, LedgerStatus, ProcessedFile, Run, RunFile};
use sluice_engine::text::human_bytes;

use crate::hints;

pub struct Printer {
    out: Mutex<Box<dyn Write + Send>>,
}

mod file_line;
mod plan;
pub use file_line::file_line;

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_header(header.iter().map(Cell::new));
    t
}

fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Printer {
    pub fn stdout() -> Self {
        Self {
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }

    pub fn line(&self, s: &str) {
        let mut out = self.out.lock().expect("stdout lock");
        let _ = writeln!(out, "{s}");
    }

    pub fn json<T: Serialize>(&self, v: &T) -> anyhow::Result<()> {
        self.line(&serde_json::to_string_pretty(v)?);
        Ok(())
    }

    pub fn listing(&self, l: &FileListing) {
        for w in &l.warnings {
            self.line(&format!("warning: {w}"));
        }
        if let Some(s) = &l.suggestion {
            let flag = l.hint.as_ref().map(hints::as_flag).unwrap_or_default();
            self.line(&format!("{s}{flag}"));
            return;
        }
        let mut t = table(&["file", "size", "last modified", ""]);
        for f in &l.files {
            let flag = if f.over_limit {
                format!("over the {} limit", human_bytes(l.max_file_size))
            } else {
                String::new()
            };
            t.add_row(vec![
                f.name.clone(),
                human_bytes(f.size),
                when(&f.last_modified),
                flag,
            ]);
        }
        self.line(&t.to_string());
        let shown = l.files.len();
        if shown < l.count {
            self.line(&format!(
                "{shown} of {} matching files shown, newest first (use --limit)",
                l.count
            ));
        } else {
            self.line(&format!("{} matching file(s), newest first", l.count));
        }
    }

    pub fn schema(&self, s: &DetectedSchema) {
        let mut t = table(&[
            "column",
            "found",
            "type",
            "mode",
            "nullable",
            "sample values",
        ]);
        for c in &s.columns {
            t.add_row(vec![
                c.name.clone(),
                c.source_type.clone(),
                c.column_type().to_string(),
                format!("{:?}", c.bigquery_mode).to_uppercase(),
                if c.nullable {
                    "yes".into()
                } else {
                    "no".into()
                },
                c.sample_values.join(" | "),
            ]);
        }
        self.line(&t.to_string());
        let rows = if s.total_rows_estimated {
            format!(
                "about {} rows (estimated from the first {})",
                thousands(s.total_rows),
                human_bytes(sluice_core::format::SAMPLE_BYTES.min(s.file_size))
            )
        } else {
            format!("{} rows", thousands(s.total_rows))
        };
        self.line(&format!(
            "{} columns; {rows}; file size {}",
            s.columns.len(),
            human_bytes(s.file_size)
        ));
        if let Some(opts) = &s.format_options {
            self.line(&format!(
                "format: {}",
                serde_json::to_string(opts).unwrap_or_default()
            ));
        }
        self.line(&format!("schema fingerprint: {}", s.schema_fingerprint));
    }

    pub fn connections(&self, list: &[ConnectionRecord]) {
        if list.is_empty() {
            self.line("no connections yet; add one with `sluice connections add NAME URL`");
            return;
        }
        let mut t = table(&["name", "provider", "location", "settings", "created"]);
        for c in list {
            t.add_row(vec![
                c.name.clone(),
                c.provider().into(),
                c.url(),
                settings(&c.config),
                when(&c.created_at),
            ]);
        }
        self.line(&t.to_string());
    }

    pub fn jobs(&self, list: &[Job]) {
        if list.is_empty() {
            self.line("no jobs yet; create one with `sluice jobs create`");
            return;
        }
        let mut t = table(&[
            "job",
            "connection",
            "files",
            "strategy",
            "table",
            "schedule",
            "next run",
        ]);
        let now = chrono::Utc::now();
        for j in list {
            t.add_row(vec![
                j.name.clone(),
                j.connection.clone(),
                pattern_of(j),
                strategy(j).into(),
                format!("{} ({})", j.table_name, j.load_type),
                schedule_of(j),
                j.settings
                    .next_run_after(now)
                    .map(|t| when(&t))
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        self.line(&t.to_string());
    }

    pub fn job(&self, j: &Job, ledger: Option<&[ProcessedFile]>) {
        self.line(&format!("job {}", j.name));
        self.line(&format!("  connection:  {}", j.connection));
        self.line(&format!("  files:       {}", pattern_of(j)));
        self.line(&format!(
            "  format:      {}",
            serde_json::to_string(&j.file_format_options).unwrap_or_default()
        ));
        self.line(&format!("  strategy:    {}", strategy(j)));
        self.line(&format!(
            "  table:       {} ({})",
            j.table_name, j.load_type
        ));
        self.line(&format!("  destination: {}", j.destination.describe()));
        self.line(&format!("  max size:    {}", human_bytes(j.max_file_size)));
        let next = j
            .settings
            .next_run_after(chrono::Utc::now())
            .map(|t| format!(" (next run {})", when(&t)));
        self.line(&format!(
            "  schedule:    {}{}",
            schedule_of(j),
            next.unwrap_or_default()
        ));
        for t in &j.settings.alerts.targets {
            self.line(&format!("  alerts:      {t}"));
        }
        if let Some(h) = j.settings.alerts.freshness_hours {
            self.line(&format!(
                "  freshness:   alert after {h} hours without a new file"
            ));
        }
        self.line(&format!(
            "  parking:     {}",
            match j.settings.park_after_failures {
                0 => "never: a failing file is tried on every run".to_string(),
                n => format!("a file failing the same way in {n} runs in a row is parked"),
            }
        ));
        self.line(&format!(
            "  changed:     {} ({})",
            j.settings.changed_files,
            j.settings.changed_files.label()
        ));
        self.line(&format!(
            "  schema:      {} ({})",
            j.settings.schema_policy,
            j.settings.schema_policy.label()
        ));
        self.line(&format!(
            "  bad rows:    {}",
            j.settings.max_rejected.label(&j.table_name)
        ));
        if let Some(d) = &j.settings.dedup {
            self.line(&format!(
                "  dedup:       key {} (keep {})",
                d.key.join(", "),
                d.keep
            ));
        }
        let rr = &j.settings.row_rules;
        for t in &rr.transforms {
            self.line(&format!("  transform:   {t}"));
        }
        for f in &rr.filters {
            self.line(&format!("  filter:      {f}"));
        }
        for r in &rr.rules {
            self.line(&format!("  rule:        {r}"));
        }
        if j.settings.settle_time_seconds > 0 {
            self.line(&format!(
                "  settle time: {} (a file is taken once it is this old)",
                sluice_engine::plan::show_duration(j.settings.settle_time_seconds)
            ));
        }
        if let Some(m) = &j.settings.ready_marker {
            self.line(&format!("  ready when:  {m} is in the file's folder"));
        }
        if let Some(e) = &j.settings.archive_entries {
            self.line(&format!("  zip entries: {e}"));
        }
        if j.settings.max_expansion != sluice_core::format::compression::Limits::DEFAULT_EXPANSION {
            self.line(&format!(
                "  expansion:   a compressed file may inflate {}× (at least 64 MiB)",
                j.settings.max_expansion
            ));
        }
        self.line(&format!(
            "  lineage:     {}",
            if j.settings.lineage {
                "_sluice_file, _sluice_line, _sluice_loaded_at"
            } else {
                "none"
            }
        ));
        self.line(&format!("  fingerprint: {}", j.schema_fingerprint));
        let mut t = table(&["column", "type", "mode"]);
        for c in &j.schema {
            let ty = match c.read_as {
                Some(file) => format!("{} (read as {file})", c.column_type()),
                None => c.column_type().to_string(),
            };
            t.add_row(vec![
                c.name.clone(),
                ty,
                format!("{:?}", c.mode).to_uppercase(),
            ]);
        }
        self.line(&t.to_string());
        if let Some(ledger) = ledger {
            let loaded: Vec<_> = ledger.iter().filter(|p| p.is_loaded()).collect();
            self.line(&format!("{} file(s) loaded", loaded.len()));
            for p in loaded.iter().take(10) {
                self.line(&format!(
                    "  {}  {} rows  {}",
                    p.file_path,
                    thousands(p.rows_loaded),
                    when(&p.processed_at)
                ));
            }
            let failing: Vec<_> = ledger
                .iter()
                .filter(|p| matches!(p.status, LedgerStatus::Failed | LedgerStatus::Parked))
                .collect();
            if !failing.is_empty() {
                self.line(&format!("{} file(s) failing", failing.len()));
            }
            for p in failing {
                let state = if p.status == LedgerStatus::Parked {
                    "parked"
                } else {
                    "failed"
                };
                self.line(&format!(
                    "  {}  {state} ({} run(s) in a row)  {}",
                    p.file_path,
                    p.failures,
                    p.last_error
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                ));
            }
        }
    }

    pub fn run(&self, r: &Run) {
        let took = r
            .duration_seconds()
            .map(|s| format!(" in {s:.1}s"))
            .unwrap_or_default();
        self.line(&format!(
            "run {} of job {}: {}{took}",
            r.id,
            r.job,
            r.status.as_str().replace('_', " ")
        ));
        if r.files_loaded == 0 && r.files_failed == 0 && r.files_skipped == r.files_seen {
            self.line(&format!(
                "  nothing new: {} matching file(s), all loaded before",
                r.files_seen
            ));
        }
        self.line(&format!(
            "  files: {} seen, {} loaded, {} skipped, {} failed",
            r.files_seen, r.files_loaded, r.files_skipped, r.files_failed
        ));
        let rejected = if r.rows_rejected > 0 {
            format!(
                ", {} rejected (sluice rejected {})",
                thousands(r.rows_rejected),
                r.job
            )
        } else {
            String::new()
        };
        self.line(&format!(
            "  rows:  {} loaded ({}){rejected}",
            thousands(r.rows_loaded),
            human_bytes(r.bytes_loaded)
        ));
        for f in &r.files {
            self.line(&file_line(f));
        }
        if r.files_already_loaded > 0 && r.files_loaded + r.files_failed > 0 {
            self.line(&format!(
                "  {} file(s) skipped: already loaded",
                r.files_already_loaded
            ));
        }
        if let Some(e) = &r.error {
            self.line(&format!("  error: {e}"));
        }
    }

    /// One run in full: its statistics, files and log.
    pub fn run_details(&self, r: &Run) {
        self.run(r);
        if let Some(q) = r.queued_at.filter(|q| *q < r.started_at) {
            self.line(&format!(
                "  queued {} for {:.1}s",
                when(&q),
                (r.started_at - q).num_milliseconds() as f64 / 1000.0
            ));
        }
        if r.log.is_empty() {
            return;
        }
        self.line("log:");
        for l in &r.log {
            self.line(&format!(
                "  {} {:5} {}",
                l.at.format("%H:%M:%S%.3f"),
                l.level,
                l.message
            ));
        }
    }

    pub fn incidents(&self, list: &[sluice_engine::alerts::Incident]) {
        if list.is_empty() {
            self.line("no alerts raised");
            return;
        }
        let mut t = table(&["opened", "kind", "summary", "closed", "sent"]);
        for i in list {
            t.add_row(vec![
                when(&i.opened_at),
                i.kind.as_str().into(),
                i.summary.clone(),
                i.closed_at
                    .map(|c| when(&c))
                    .unwrap_or_else(|| "open".into()),
                match (&i.notified_at, &i.notify_error) {
                    (Some(_), _) => "yes".into(),
                    (None, Some(e)) => format!("no: {e}"),
                    (None, None) => "-".into(),
                },
            ]);
        }
        self.line(&t.to_string());
    }

    pub fn runs(&self, runs: &[Run]) {
        if runs.is_empty() {
            self.line("no runs yet");
            return;
        }
        let mut t = table(&[
            "run",
            "status",
            "started",
            "seconds",
            "files loaded",
            "skipped",
            "failed",
            "rows",
            "bytes",
        ]);
        for r in runs {
            t.add_row(vec![
                r.id.to_string(),
                r.status.as_str().into(),
                when(&r.started_at),
                r.duration_seconds()
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_default(),
                r.files_loaded.to_string(),
                r.files_skipped.to_string(),
                r.files_failed.to_string(),
                thousands(r.rows_loaded),
                human_bytes(r.bytes_loaded),
            ]);
        }
        self.line(&t.to_string());
    }
}

/// A connection's settings other than its location, credentials already redacted.
fn settings(config: &sluice_core::storage::ConnectionConfig) -> String {
    let value = serde_json::to_value(config).unwrap_or_default();
    let Some(map) = value.as_object() else {
        return String::new();
    };
    map.iter()
        .filter(|(k, v)| {
            !matches!(
                k.as_str(),
                "provider" | "bucket" | "container" | "prefix" | "path"
            ) && *v != &serde_json::Value::Bool(false)
        })
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `daily@02:00 Europe/Berlin (paused)`.
fn schedule_of(j: &Job) -> String {
    let s = &j.settings;
    let mut out = s.schedule.to_string();
    if s.schedule != sluice_engine::schedule::Schedule::Manual
        && s.timezone != sluice_engine::schedule::Timezone::default()
    {
        out.push_str(&format!(" {}", s.timezone));
    }
    if s.paused {
        out.push_str(" (paused)");
    }
    out
}

fn pattern_of(j: &Job) -> String {
    if j.file_path_prefix.is_empty() {
        j.file_pattern.clone()
    } else {
        format!("{}/{}", j.file_path_prefix, j.file_pattern)
    }
}

fn strategy(j: &Job) -> &'static str {
    if j.load_latest_only {
        "latest file"
    } else {
        "all unprocessed files"
    }
}

/// A progress bar on stderr while a run loads files; nothing when stderr is not a terminal.
pub struct RunProgress {
    bar: Option<ProgressBar>,
}

impl RunProgress {
    pub fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} file {pos}/{len} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Self { bar }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl sluice_engine::Progress for RunProgress {
    fn planned(&self, files: usize) {
        if let Some(b) = &self.bar {
            b.set_length(files as u64);
        }
    }
    fn file_started(&self, file: &FileEntry) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{} ({})", file.path, human_bytes(file.size)));
        }
    }
    fn rows(&self, rows: u64) {
        if let Some(b) = &self.bar {
            let msg = b.message();
            let base = msg.split(" — ").next().unwrap_or("").to_string();
            b.set_message(format!("{base} — {} rows", thousands(rows)));
        }
    }
    fn file_finished(&self, f: &RunFile) {
        if let Some(b) = &self.bar {
            b.println(file_line(f));
            b.inc(1);
        }
    }
}

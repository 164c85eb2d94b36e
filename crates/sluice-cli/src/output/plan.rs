//! What `sluice plan` prints, and a job's changes and their history.

use super::{Printer, human_bytes, table, when};

impl Printer {
    /// What the next run of a job would do, file by file.
    pub(crate) fn plan(&self, p: &sluice_engine::files::PlanReport) {
        self.line(&format!(
            "next run of '{}' ({}): {} to load, {} waiting, {} skipped{}",
            p.job,
            if p.load_latest_only {
                "newest unprocessed file"
            } else {
                "all unprocessed files"
            },
            p.files_to_load,
            p.files_waiting,
            p.files_skipped,
            if p.files_to_fail > 0 {
                format!(", {} to fail", p.files_to_fail)
            } else {
                String::new()
            }
        ));
        if p.files.is_empty() {
            return;
        }
        let mut t = table(&["file", "size", "modified", "action", "why"]);
        for f in p.files.iter().take(200) {
            t.add_row(vec![
                f.file.path.clone(),
                human_bytes(f.file.size),
                when(&f.file.last_modified),
                f.action.as_str().to_string(),
                f.detail(),
            ]);
        }
        self.line(&t.to_string());
        if p.files.len() > 200 {
            self.line(&format!(
                "… and {} more (--json for all)",
                p.files.len() - 200
            ));
        }
        for s in &p.schema {
            match (&s.diff, &s.error) {
                (Some(d), _) => self.line(&format!(
                    "schema of {}: differs from the job's:\n{d}{}",
                    s.file_path,
                    match &s.taken {
                        Some(t) => format!("  taken by the job's schema policy ({t})"),
                        None => "  refused by the job's schema policy".to_string(),
                    }
                )),
                (None, Some(e)) => {
                    self.line(&format!("schema of {}: cannot be read: {e}", s.file_path))
                }
                (None, None) => {}
            }
        }
        let same = p.schema.iter().filter(|s| s.matches).count();
        if same > 0 {
            self.line(&format!("{same} file(s) to load have the job's columns"));
        }
    }

    /// A job's history of changes.
    pub(crate) fn history(&self, history: &[sluice_engine::model::JobChange]) {
        if history.is_empty() {
            return;
        }
        self.line("changes:");
        for h in history.iter().take(20) {
            for c in &h.changes {
                self.line(&format!(
                    "  {}  {}: {} → {}",
                    when(&h.changed_at),
                    c.field,
                    if c.old.is_empty() { "(none)" } else { &c.old },
                    if c.new.is_empty() { "(none)" } else { &c.new }
                ));
            }
        }
    }

    /// What a change to a job changes.
    pub(crate) fn changes(&self, changes: &[sluice_engine::model::FieldChange]) {
        if changes.is_empty() {
            self.line("nothing to change: the job already has these settings");
        }
        for c in changes {
            self.line(&format!(
                "{}: {} → {}",
                c.field,
                if c.old.is_empty() { "(none)" } else { &c.old },
                if c.new.is_empty() { "(none)" } else { &c.new }
            ));
        }
    }

    /// A job's schema versions, newest first.
    pub(crate) fn schema_versions(
        &self,
        job: &str,
        versions: &[sluice_engine::model::SchemaVersion],
    ) {
        for v in versions {
            let status = match (v.status, v.accepted_at) {
                (sluice_engine::model::VersionStatus::Proposed, _) => "proposed".to_string(),
                (_, Some(at)) => format!("accepted {}", when(&at)),
                _ => "accepted".to_string(),
            };
            self.line(&format!(
                "version {}  {status}  ({})  fingerprint {}",
                v.version,
                v.how,
                &v.fingerprint[..v.fingerprint.len().min(12)]
            ));
            if let Some(f) = &v.file_path {
                self.line(&format!("  file: {f}"));
            }
            if let Some(d) = &v.diff {
                for line in d.to_string().lines() {
                    self.line(&format!("  {line}"));
                }
            }
            if !v.change.is_empty() {
                self.line(&format!("  table: {}", v.change));
            }
            let columns: Vec<String> = v
                .schema
                .iter()
                .map(|c| format!("{} {}", c.name, c.column_type()))
                .collect();
            self.line(&format!("  columns: {}", columns.join(", ")));
        }
        if let Some(p) = versions
            .iter()
            .find(|v| v.status == sluice_engine::model::VersionStatus::Proposed)
        {
            self.line(&format!(
                "\naccept a proposed version with: sluice jobs schema {job} --approve {}",
                p.version
            ));
        }
    }

    /// What approving or editing a schema did.
    pub(crate) fn schema_accepted(&self, job: &str, a: &sluice_engine::engine::SchemaAccepted) {
        let change = if a.version.change.is_empty() {
            "the table is unchanged".to_string()
        } else {
            format!("table changed: {}", a.version.change)
        };
        self.line(&format!(
            "job '{job}': schema version {} accepted ({}); {change}",
            a.version.version, a.version.how
        ));
        if a.files_retried > 0 {
            self.line(&format!(
                "{} file(s) refused for their schema load on the next run: sluice run {job}",
                a.files_retried
            ));
        }
    }
}

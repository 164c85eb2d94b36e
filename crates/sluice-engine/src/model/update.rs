//! A change to a job after it is created, and the history that records it field by field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::format::FormatOptions;
use sluice_sinks::LoadMode;

use super::{ChangedFiles, Job, JobSettings, MaxRejected, SchemaPolicy};
use crate::alerts::Alerts;
use crate::schedule::{Schedule, Timezone};

/// A change to a job; fields left `None` stay as they are. The job's connection, schema,
/// destination, table and lineage are fixed when it is created.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobUpdate {
    pub file_path_prefix: Option<String>,
    pub file_pattern: Option<String>,
    pub file_format_options: Option<FormatOptions>,
    pub load_latest_only: Option<bool>,
    pub max_file_size: Option<u64>,
    pub load_type: Option<LoadMode>,
    pub schedule: Option<Schedule>,
    pub timezone: Option<Timezone>,
    pub paused: Option<bool>,
    pub alerts: Option<Alerts>,
    pub park_after_failures: Option<u32>,
    pub changed_files: Option<ChangedFiles>,
    pub settle_time_seconds: Option<u64>,
    /// The marker's file name; empty for none.
    pub ready_marker: Option<String>,
    pub max_expansion: Option<u32>,
    /// The glob choosing a zip archive's entries; empty for the default.
    pub archive_entries: Option<String>,
    pub schema_policy: Option<SchemaPolicy>,
    /// The validation rules (all of them: the list replaces the job's).
    pub rules: Option<Vec<sluice_rules::Rule>>,
    /// The row filters (the list replaces the job's).
    pub filters: Option<Vec<String>>,
    /// The column transforms (the list replaces the job's).
    pub transforms: Option<Vec<sluice_rules::Transform>>,
    pub max_rejected: Option<MaxRejected>,
    /// The key rows are deduplicated by; `Some(None)` stops deduplicating.
    pub dedup: Option<Option<sluice_sinks::dedup::Dedup>>,
}

/// One field of a job as a change recorded it: its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A change to a job, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobChange {
    pub changed_at: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
}

impl JobUpdate {
    /// Whether the change can make other files match or be taken: what the plan shown
    /// before saving is for.
    pub fn changes_selection(&self) -> bool {
        self.file_path_prefix.is_some()
            || self.file_pattern.is_some()
            || self.load_latest_only.is_some()
            || self.max_file_size.is_some()
            || self.settle_time_seconds.is_some()
            || self.ready_marker.is_some()
            || self.archive_entries.is_some()
    }

    /// Applies the settings part of the change (schedule, alerts, policies) to `settings`,
    /// for a job not yet created.
    pub fn apply_settings(self, settings: &mut JobSettings) {
        self.change_settings(settings, &mut Vec::new());
    }

    /// Applies the change to `job`; returns what changed, field by field.
    pub fn apply(mut self, job: &mut Job) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        let c = &mut changes;
        set(
            c,
            "file_path_prefix",
            &mut job.file_path_prefix,
            self.file_path_prefix.take(),
            |v| v.clone(),
        );
        set(
            c,
            "file_pattern",
            &mut job.file_pattern,
            self.file_pattern.take(),
            |v| v.clone(),
        );
        set(
            c,
            "file_format_options",
            &mut job.file_format_options,
            self.file_format_options.take(),
            |v| serde_json::to_string(v).unwrap_or_default(),
        );
        set(
            c,
            "load_latest_only",
            &mut job.load_latest_only,
            self.load_latest_only.take(),
            |v| v.to_string(),
        );
        set(
            c,
            "max_file_size",
            &mut job.max_file_size,
            self.max_file_size.take(),
            |v| v.to_string(),
        );
        set(
            c,
            "load_type",
            &mut job.load_type,
            self.load_type.take(),
            |v| v.to_string(),
        );
        self.change_settings(&mut job.settings, &mut changes);
        changes
    }

    fn change_settings(self, st: &mut JobSettings, c: &mut Vec<FieldChange>) {
        set(c, "schedule", &mut st.schedule, self.schedule, |v| {
            v.to_string()
        });
        set(c, "timezone", &mut st.timezone, self.timezone, |v| {
            v.to_string()
        });
        set(c, "paused", &mut st.paused, self.paused, |v| v.to_string());
        // Webhook URLs are credentials (and sealed here): a change names its targets only.
        set(c, "alerts", &mut st.alerts, self.alerts, |v| {
            let mut shown: Vec<String> = v
                .targets
                .iter()
                .map(|t| match t {
                    crate::alerts::AlertTarget::Webhook { .. } => "webhook".to_string(),
                    crate::alerts::AlertTarget::Email { to } => format!("email {to}"),
                })
                .collect();
            if let Some(h) = v.freshness_hours {
                shown.push(format!("freshness {h} h"));
            }
            if shown.is_empty() {
                "none".into()
            } else {
                shown.join(", ")
            }
        });
        set(
            c,
            "park_after_failures",
            &mut st.park_after_failures,
            self.park_after_failures,
            |v| v.to_string(),
        );
        set(
            c,
            "changed_files",
            &mut st.changed_files,
            self.changed_files,
            |v| v.to_string(),
        );
        set(
            c,
            "settle_time_seconds",
            &mut st.settle_time_seconds,
            self.settle_time_seconds,
            |v| v.to_string(),
        );
        let marker = self
            .ready_marker
            .map(|m| Some(m.trim().to_string()).filter(|m| !m.is_empty()));
        set(c, "ready_marker", &mut st.ready_marker, marker, |v| {
            v.clone().unwrap_or_default()
        });
        set(
            c,
            "max_expansion",
            &mut st.max_expansion,
            self.max_expansion.map(|m| m.max(1)),
            |v| v.to_string(),
        );
        let entries = self
            .archive_entries
            .map(|m| Some(m.trim().to_string()).filter(|m| !m.is_empty()));
        set(
            c,
            "archive_entries",
            &mut st.archive_entries,
            entries,
            |v| v.clone().unwrap_or_default(),
        );
        set(
            c,
            "schema_policy",
            &mut st.schema_policy,
            self.schema_policy,
            |v| v.to_string(),
        );
        let listed = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join("; ")
            }
        };
        set(c, "rules", &mut st.row_rules.rules, self.rules, |v| {
            listed(v.iter().map(ToString::to_string).collect())
        });
        set(c, "filters", &mut st.row_rules.filters, self.filters, |v| {
            listed(v.clone())
        });
        set(
            c,
            "transforms",
            &mut st.row_rules.transforms,
            self.transforms,
            |v| listed(v.iter().map(ToString::to_string).collect()),
        );
        set(
            c,
            "max_rejected",
            &mut st.max_rejected,
            self.max_rejected,
            |v| v.to_string(),
        );
        set(c, "dedup", &mut st.dedup, self.dedup, |v| match v {
            Some(d) => format!("key {} (keep {})", d.key.join(", "), d.keep),
            None => "none".into(),
        });
    }
}

/// Sets `slot` to `new` if given and different, recording the change.
fn set<T: PartialEq>(
    changes: &mut Vec<FieldChange>,
    field: &str,
    slot: &mut T,
    new: Option<T>,
    show: impl Fn(&T) -> String,
) {
    if let Some(new) = new
        && *slot != new
    {
        changes.push(FieldChange {
            field: field.into(),
            old: show(slot),
            new: show(&new),
        });
        *slot = new;
    }
}

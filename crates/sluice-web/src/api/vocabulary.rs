//! `GET /api/vocabulary`: the words and rules the UI draws its forms with, from where they
//! are defined — warehouse types, file formats and their options, storage providers and
//! destinations with their fields, outcome and alert labels, the schedule forms, the name
//! rules — so the UI copies none of them.

use axum::Json;
use serde_json::{Value, json};
use sluice_core::format::FORMATS;
use sluice_core::names::TABLE_NAME_PATTERN;
use sluice_core::schema::WarehouseType;
use sluice_core::storage::PROVIDERS;
use sluice_engine::alerts::AlertKind;
use sluice_engine::connections::NAME_PATTERN;
use sluice_engine::model::{ChangedFiles, FileOutcome, SchemaPolicy};
use sluice_engine::plan::Action;
use sluice_engine::schedule::{DAYS, FORMS};
use sluice_sinks::{LoadMode, SINKS};

pub async fn vocabulary() -> Json<Value> {
    Json(json!({
        "status": "success",
        "warehouse_types": WarehouseType::ALL.map(WarehouseType::as_str),
        "formats": FORMATS,
        "providers": PROVIDERS,
        "destinations": SINKS,
        "load_types": LoadMode::ALL.map(|m| json!({"value": m.to_string(), "label": m.label()})),
        "outcomes": FileOutcome::ALL.map(|o| json!({
            "outcome": o.as_str(), "label": o.label(), "failure": o.is_failure(), "loaded": o.is_loaded()
        })),
        "changed_files": ChangedFiles::ALL.map(|c| json!({"value": c.as_str(), "label": c.label()})),
        "schema_policies": SchemaPolicy::ALL.map(|c| json!({"value": c.as_str(), "label": c.label()})),
        "plan_actions": Action::ALL.map(|a| json!({"action": a.as_str(), "label": a.label()})),
        "alert_kinds": AlertKind::ALL.map(|k| json!({"kind": k.as_str(), "label": k.label()})),
        "schedules": {"forms": FORMS, "days": DAYS},
        "names": {
            "job": {"pattern": NAME_PATTERN, "message": "Use letters, digits, - and _ (up to 64)."},
            "connection": {"pattern": NAME_PATTERN, "message": "Use letters, digits, - and _ (up to 64)."},
            "table": {"pattern": TABLE_NAME_PATTERN, "message": "Letters, digits and _, starting with a letter or _ (optionally schema.table), up to 63 each."},
        },
    }))
}

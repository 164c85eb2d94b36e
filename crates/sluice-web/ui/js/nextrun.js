// The job page's "Next run" (what the next run would do with each matching file, and the
// schema of the files it would load), the actions a person takes on one file (skip, retry,
// forget), the form that changes a job's files and policies (previewing the plan of a
// change before saving it), and the job's history of changes.
import { h, put, size, when, badge, showError, field, typeOf, rowRuleFields } from "./dom.js";
import { api, vocab } from "./api.js";

const actionBadge = (a) => badge({ load: "succeeded", skip: "skipped", wait: "queued", fail: "failed" }[a] || a, a);

// The actions a file's row offers, by why the plan treats it so.
function fileButtons(p, act) {
  const b = (label, action, title) => h("button", { class: "small", "data-action": action, "data-file": p.file_path, title, onclick: () => act(action, p.file_path) }, label);
  switch (p.reason) {
    case "parked": case "skipped": case "retry": return [b("Retry", "retry", "Try this file again on the next run")];
    case "already_loaded": case "same_content": return [b("Forget", "forget", "Forget it so the next run loads it again")];
    case "new": case "changed": case "not_settled": case "no_marker": case "not_newest": return [b("Skip", "skip", "Pass over this file's current version")];
    default: return [];
  }
}

function diffText(d) {
  const parts = [];
  if (d.added.length) parts.push("new: " + d.added.map((c) => `${c.name} ${typeOf(c)}`).join(", "));
  if (d.removed.length) parts.push("missing: " + d.removed.map((c) => c.name).join(", "));
  if (d.retyped.length) parts.push("retyped: " + d.retyped.map(([n, a, b]) => `${n} ${a} → ${b}`).join(", "));
  if (d.moved.length) parts.push("moved: " + d.moved.map(([n, a, b]) => `${n} ${a} → ${b}`).join(", "));
  return parts.join("; ");
}

// A plan as a table, with the schema of the files to load under it.
export function planView(plan, act) {
  const counts = `${plan.files_to_load} to load, ${plan.files_waiting} waiting, ${plan.files_skipped} skipped` + (plan.files_to_fail ? `, ${plan.files_to_fail} to fail` : "");
  const rows = plan.files.slice(0, 200).map((p) => h("tr", { class: "plan-" + p.action, "data-file": p.file_path },
    h("td", { text: p.file_path }), h("td", { text: size(p.file_size_bytes) }), h("td", { text: when(p.last_modified) }),
    h("td", {}, actionBadge(p.action)), h("td", { text: p.detail }), h("td", { class: "nowrap" }, act ? fileButtons(p, act) : null)));
  const schema = plan.schema.filter((s) => !s.matches).map((s) => h("div", { class: "error", "data-schema": s.file_path },
    `${s.file_path}: ` + (s.error ? `cannot be read: ${s.error}` : `columns differ from the job's (${diffText(s.diff)})` + (s.taken ? `; taken by the schema policy (${s.taken})` : "; refused by the schema policy"))));
  return h("div", { class: "plan" },
    h("p", { id: "plan-counts" }, (plan.load_latest_only ? "Newest unprocessed file only: " : "All unprocessed files: ") + counts),
    plan.files.length ? h("table", { id: "plan-table" }, h("thead", {}, h("tr", {}, ["File", "Size", "Modified", "Action", "Why", ""].map((t) => h("th", { text: t })))), h("tbody", {}, rows)) : h("p", { class: "hint" }, "No file matches the job's folder and pattern."),
    plan.files.length > 200 ? h("p", { class: "hint" }, `… and ${plan.files.length - 200} more`) : null,
    schema.length ? h("div", {}, h("h3", { text: "Schema" }), schema) : plan.schema.length ? h("p", { class: "hint", id: "plan-schema-ok" }, `The ${plan.schema.length} file(s) to load have the job's columns.`) : null);
}

// The "Next run" card: the plan, reloaded after a run or a file action.
export function nextRunCard(path, onChange) {
  const body = h("div", { id: "next-run-plan" });
  const msg = h("div", { id: "file-action-msg", "aria-live": "polite" });
  const deleteRows = h("input", { type: "checkbox", id: "forget-delete-rows" });
  async function act(action, file) {
    msg.replaceChildren();
    try {
      const { result } = await api("POST", `${path}/files/${action}`, { file_path: file, delete_rows: action === "forget" && deleteRows.checked });
      msg.replaceChildren(h("div", { class: "success", text: "✓ " + result.message }));
      await load();
      if (onChange) onChange();
    } catch (e) { msg.replaceChildren(h("div", { class: "error", text: e.message })); }
  }
  async function load() {
    try {
      const { plan } = await api("GET", path + "/plan");
      put(body, planView(plan, act));
    } catch (e) { put(body, h("div", { class: "error", text: e.message })); }
  }
  const card = h("div", { class: "card", id: "next-run-card" }, h("h2", { text: "Next run" }),
    h("p", { class: "hint" }, "What the next run would do with each matching file, and why; nothing is loaded to find out."),
    body, h("label", { class: "inline" }, deleteRows, " Forget also deletes the file's rows from the table"), msg);
  return { card, load, act };
}

// The form that changes which files a job takes and how: a change that alters which files
// are taken shows the next run's plan under it before it is saved.
export function filesCard(path, getJob, setJob) {
  const job = getJob();
  const prefix = h("input", { id: "edit-prefix", value: job.file_path_prefix || "" });
  const pattern = h("input", { id: "edit-pattern", value: job.file_pattern });
  const strategy = h("select", { id: "edit-strategy" }, [["true", "Newest unprocessed file"], ["false", "All unprocessed files"]].map(([v, t]) => h("option", { value: v, selected: String(job.load_latest_only) === v }, t)));
  const maxSize = h("input", { type: "number", id: "edit-max-size", min: 1, value: job.max_file_size });
  const changed = h("select", { id: "edit-changed-files" }, vocab.changed_files.map((c) => h("option", { value: c.value, selected: c.value === job.changed_files, disabled: c.value === "reload" && !job.lineage }, `${c.value}: ${c.label}`)));
  const policy = h("select", { id: "edit-schema-policy" }, vocab.schema_policies.map((c) => h("option", { value: c.value, selected: c.value === job.schema_policy }, `${c.value}: ${c.label}`)));
  const settle = h("input", { type: "number", id: "edit-settle", min: 0, value: job.settle_time_seconds || 0 });
  const marker = h("input", { id: "edit-marker", value: job.ready_marker || "", placeholder: "_SUCCESS" });
  const expansion = h("input", { type: "number", id: "edit-expansion", min: 1, value: job.max_expansion || 20 });
  const entries = h("input", { id: "edit-entries", value: job.archive_entries || "", placeholder: "data/*.csv" });
  const rowRules = rowRuleFields("edit-", job);
  const preview = h("div", { id: "edit-preview" });
  const ok = h("div", { class: "success", id: "edit-msg", "aria-live": "polite" });
  const card = h("div", { class: "card", id: "files-card" });
  const body = () => ({ file_path_prefix: prefix.value.trim(), file_pattern: pattern.value.trim(), load_latest_only: strategy.value === "true",
    max_file_size: Number(maxSize.value), changed_files: changed.value, schema_policy: policy.value, settle_time_seconds: Number(settle.value || 0), ready_marker: marker.value.trim(),
    max_expansion: Number(expansion.value || 20), archive_entries: entries.value.trim(), ...rowRules.body() });
  async function check() {
    ok.textContent = "";
    try {
      const { plan, changes } = await api("PATCH", path, { ...body(), dry_run: true });
      showError({}, null, card);
      put(preview, changes.length ? h("ul", { id: "edit-changes" }, changes.map((c) => h("li", { text: `${c.field}: ${c.old || "(none)"} → ${c.new || "(none)"}` }))) : h("p", { class: "hint", text: "Nothing changes." }),
        plan.files.length || changes.some((c) => ["file_path_prefix", "file_pattern", "load_latest_only", "max_file_size", "settle_time_seconds", "ready_marker", "archive_entries"].includes(c.field)) ? planView(plan, null) : null,
        changes.length ? h("div", { class: "form-actions" }, h("button", { class: "primary", id: "edit-save", onclick: save }, "Save these changes")) : null);
    } catch (e) { showError(e, card.querySelector("#err-edit"), card); }
  }
  async function save() {
    try {
      const { job: saved } = await api("PATCH", path, body());
      setJob(saved);
      put(preview);
      ok.textContent = "✓ Saved; the change is in the job's history.";
    } catch (e) { showError(e, card.querySelector("#err-edit"), card); }
  }
  put(card, h("h2", { text: "Files and policies" }),
    h("div", { class: "row" }, field("Folder", prefix, "file_path_prefix", "searched recursively"), field("File pattern", pattern, "file_pattern", "a glob on the file name")),
    h("div", { class: "row" }, field("Strategy", strategy, "load_latest_only"), field("Size limit (bytes)", maxSize, "max_file_size")),
    field("Changed files", changed, "changed_files", job.lineage ? "a file whose content changed after it was loaded" : "reload needs the lineage columns, which this job was created without"),
    field("Schema changes", policy, "schema_policy", "a file whose columns differ from the job's: refused (its columns become a proposed version), added, widened or rescued"),
    h("div", { class: "row" }, field("Settle time (seconds)", settle, "settle_time_seconds", "a file is taken once it is this old; 0: at once"),
      field("Ready marker", marker, "ready_marker", "take a folder's files once this file is in it; empty: none")),
    h("div", { class: "row" }, field("Max expansion", expansion, "max_expansion", "a compressed file may inflate to this many times its size (at least 64 MiB)"),
      field("Zip entries", entries, "archive_entries", "a glob on the paths inside a zip archive; empty: every entry of the format")),
    h("h3", { text: "Row rules" }), ...rowRules.fields,
    h("div", { class: "error", id: "err-edit", "aria-live": "polite" }),
    h("div", { class: "form-actions" }, h("button", { id: "edit-check", onclick: check }, "Preview the change"), ok), preview);
  return card;
}

// The job's history of changes.
export async function historyCard(path) {
  const { history } = await api("GET", path + "/history");
  return h("div", { class: "card", id: "history-card" }, h("h2", { text: "Changes" }),
    history.length ? h("table", { id: "changes-table" }, h("thead", {}, h("tr", {}, ["When", "Field", "Before", "After"].map((t) => h("th", { text: t })))),
      h("tbody", {}, history.flatMap((c) => c.changes.map((f) => h("tr", {}, h("td", { text: when(c.changed_at) }), h("td", { text: f.field }), h("td", { text: f.old }), h("td", { text: f.new }))))))
      : h("p", { class: "hint" }, "No change since the job was created."));
}

// The job page's "Schema versions" card: every version of the job's schema with the
// difference of the file that caused it and what it changed in the table; a proposed
// version (a refused file's columns) is approved here, and a column widened, renamed or
// dropped (each as a new version).
import { h, put, when, badge, showError, field, typeOf } from "./dom.js";
import { api, vocab } from "./api.js";

function diffLines(d) {
  if (!d) return [];
  return [
    ...d.added.map((c) => `+ ${c.name} ${typeOf(c)} (new in the file)`),
    ...d.removed.map((c) => `− ${c.name} ${typeOf(c)} (missing from the file)`),
    ...d.retyped.map(([n, a, b]) => `~ ${n}: job has ${a}, file has ${b}`),
    ...d.moved.map(([n, a, b]) => `↕ ${n}: position ${a} → ${b}`),
  ];
}

function changeText(c) {
  const parts = [
    ...(c.drop || []).map((n) => `drop ${n}`),
    ...(c.rename || []).map(([a, b]) => `rename ${a} to ${b}`),
    ...(c.add || []).map((col) => `add ${col.name} ${typeOf(col)}`),
    ...(c.retype || []).map(([n, a, b]) => `change ${n} from ${a} to ${b}`),
    ...(c.relax || []).map((n) => `let ${n} be NULL`),
  ];
  return parts.join(", ") || "none";
}

// `onChange` is called after a version is accepted (the job's columns changed).
export function schemaCard(path, getJob, onChange) {
  const card = h("div", { class: "card", id: "schema-card" });
  const msg = h("div", { class: "success", id: "schema-msg", "aria-live": "polite" });
  const err = h("div", { class: "error", id: "err-schema", "aria-live": "polite" });
  // The column and type chosen, kept when the card is drawn again (after a run).
  const chosen = {};
  async function accepted(answer) {
    msg.textContent = `✓ Schema version ${answer.version.version} accepted; table: ${changeText(answer.version.change)}.` +
      (answer.files_retried ? ` ${answer.files_retried} refused file(s) load on the next run.` : "");
    await load();
    onChange();
  }
  async function approve(n) {
    err.textContent = "";
    msg.textContent = "";
    try { await accepted(await api("POST", `${path}/schema/${n}/approve`, {})); } catch (e) { showError(e, err); }
  }
  async function load() {
    const { versions } = await api("GET", path + "/schema");
    const job = getJob();
    const column = h("select", { id: "retype-column", onchange: () => (chosen.column = column.value) },
      job.schema.filter((c) => c.bigquery_mode !== "REPEATED").map((c) => h("option", { value: c.name, selected: c.name === chosen.column }, `${c.name} (${typeOf(c)})`)));
    const type = h("select", { id: "retype-type", onchange: () => (chosen.type = type.value) },
      vocab.warehouse_types.map((t) => h("option", { value: t, selected: t === chosen.type }, t)));
    async function edit(body) {
      err.textContent = "";
      msg.textContent = "";
      try { await accepted(await api("PATCH", path + "/schema", body)); } catch (e) { showError(e, err); }
    }
    const retype = () => edit({ types: { [column.value]: type.value } });
    const newName = h("input", { id: "rename-to", placeholder: "new_name", value: chosen.name || "", oninput: () => (chosen.name = newName.value) });
    const rename = () => edit({ rename: { [column.value]: newName.value.trim() } });
    // Dropping loses the column's values: a second click confirms it.
    const confirmDrop = h("span", { id: "drop-confirm" });
    function askDrop() {
      err.textContent = "";
      put(confirmDrop, h("span", { class: "hint", text: `Drop ${column.value} and every value it holds from table ${job.table_name}? Files' values of it are left out from then on. ` }),
        h("button", { class: "small danger", id: "drop-confirmed", onclick: () => edit({ drop: [column.value] }) }, `Drop ${column.value}`));
    }
    const rows = versions.map((v) => h("tr", { "data-version": v.version, class: "version-" + v.status },
      h("td", { text: String(v.version) }),
      h("td", {}, badge(v.status === "proposed" ? "queued" : "succeeded", v.status)),
      h("td", { text: v.how + (v.accepted_at ? ` ${when(v.accepted_at)}` : ` ${when(v.created_at)}`) }),
      h("td", { text: v.file_path || "" }),
      h("td", {}, diffLines(v.diff).map((l) => h("div", { class: "mono", text: l }))),
      h("td", { text: changeText(v.change) }),
      h("td", { text: v.schema.map((c) => `${c.name} ${typeOf(c)}`).join(", ") }),
      h("td", {}, v.status === "proposed" ? h("button", { class: "small primary", "data-approve": v.version, onclick: () => approve(v.version) }, "Approve") : null)));
    put(card, h("h2", { text: "Schema versions" }),
      h("p", { class: "hint", text: `Policy for files whose columns differ: ${job.schema_policy}. A refused file's columns are kept as a proposed version; approving it alters the table and lets the file load on the next run.` }),
      h("table", { id: "schema-versions" }, h("thead", {}, h("tr", {}, ["Version", "Status", "How", "File", "Difference", "Table change", "Columns", ""].map((t) => h("th", { text: t })))), h("tbody", {}, rows)),
      h("h3", { text: "Edit the schema" }),
      h("div", { class: "row" }, field("Column", column, "retype_column"), field("New type", type, "retype_type", "only a change that keeps every value: INT64 → NUMERIC or FLOAT64, DATE → TIMESTAMP, anything → STRING"),
        field("New name", newName, "rename_to", "the table's name for it; files keep theirs")),
      h("div", { class: "form-actions" }, h("button", { id: "retype", onclick: retype }, "Change the type"),
        h("button", { id: "rename", onclick: rename }, "Rename"),
        h("button", { id: "drop-column", class: "danger", onclick: askDrop }, "Drop column…"), confirmDrop, msg), err);
  }
  return { card, load };
}

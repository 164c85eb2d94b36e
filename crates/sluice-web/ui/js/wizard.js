// The "+ ETL job" wizard: name and connection, files (preview and detect), table and
// destination, schedule and review.
import { h, field, spinner, size, when, showError, typeOf, rowRuleFields } from "./dom.js";
import { api, vocab, formatInfo, destinationInfo, matches } from "./api.js";
import { fieldsForm } from "./forms.js";
import { parseSchedule, scheduleText, describeSchedule, scheduleFields } from "./schedule.js";
import { connectionForm } from "./connections.js";

const STEPS = ["Name & connection", "Files", "Table", "Schedule & review"];

function newWizard() {
  return { step: 0, name: "", connection: "", prefix: "", pattern: "*.csv", format: "csv", formatOptions: {},
    latestOnly: true, detected: null, columns: [], table: "", suggestedTable: "", loadType: "append",
    destKind: vocab.destinations[0].name, destination: {}, destinationText: "",
    ...parseSchedule("manual"), timezone: "UTC" };
}
let wiz = null;

export async function wizardPage(app) {
  if (!wiz) wiz = newWizard();
  const { connections } = await api("GET", "/connections");
  const body = h("div");
  const stepper = h("ol", { class: "steps", "aria-label": "Steps" }, STEPS.map((s, i) =>
    h("li", { class: i === wiz.step ? "current" : i < wiz.step ? "done" : "", "aria-current": i === wiz.step ? "step" : null }, `${i + 1}. ${s}`)));
  app.replaceChildren(h("h1", { text: "New ETL job" }), stepper, body);
  const next = (ok, before) => h("button", { class: "primary", id: "next", disabled: !ok, onclick: () => { if (before) before(); wiz.step++; wizardPage(app); } }, "Next");
  const back = () => h("button", { id: "back", onclick: () => { wiz.step--; wizardPage(app); } }, "Back");
  [stepName, stepFiles, stepTable, stepReview][wiz.step](app, body, connections, next, back);
}

function stepName(app, body, connections, next) {
  const rule = vocab.names.job;
  const name = h("input", { type: "text", id: "job-name", value: wiz.name, placeholder: "daily-transactions" });
  const conn = h("select", { id: "connection" }, h("option", { value: "" }, "Choose a connection…"),
    connections.map((c) => h("option", { value: c.name, selected: c.name === wiz.connection }, `${c.name} (${c.config.provider})`)));
  const valid = () => matches(rule.pattern, wiz.name) && wiz.connection;
  const nextBtn = next(valid());
  name.addEventListener("input", () => {
    wiz.name = name.value.trim();
    document.getElementById("err-name").textContent = wiz.name && !matches(rule.pattern, wiz.name) ? rule.message : "";
    nextBtn.disabled = !valid();
  });
  conn.addEventListener("change", () => { wiz.connection = conn.value; nextBtn.disabled = !valid(); });
  body.append(h("div", { class: "card" }, field("Job name", name, "name"), field("Connection", conn, "connection_id")),
    connectionForm(async (n) => { wiz.connection = n; await wizardPage(app); }),
    h("div", { class: "actions" }, h("span"), nextBtn));
  name.focus();
}

function stepFiles(app, body, connections, next, back) {
  const prefix = h("input", { type: "text", id: "prefix", value: wiz.prefix, placeholder: "exports/daily (optional)" });
  const pattern = h("input", { type: "text", id: "pattern", value: wiz.pattern });
  const format = h("select", { id: "format" }, vocab.formats.map((f) => h("option", { value: f.name, selected: f.name === wiz.format }, f.label)));
  const optionsPanel = h("div");
  let options = null;
  const renderOptions = () => {
    const info = formatInfo(wiz.format);
    options = fieldsForm(info.options, wiz.formatOptions, { prefix: "opt", inline: true, changed: () => { wiz.formatOptions = options.value(); changed(); } });
    optionsPanel.id = `${wiz.format}-options`;
    optionsPanel.hidden = !info.options.length;
    optionsPanel.replaceChildren(options.element);
  };
  const strategy = h("div", { role: "radiogroup", "aria-label": "Load strategy" },
    h("label", { class: "radio" }, h("input", { type: "radio", name: "strategy", id: "latest", checked: wiz.latestOnly, onchange: () => (wiz.latestOnly = true) }), "Latest file only ", h("span", { class: "hint" }, "(recommended)")),
    h("label", { class: "radio" }, h("input", { type: "radio", name: "strategy", id: "all", checked: !wiz.latestOnly, onchange: () => (wiz.latestOnly = false) }), "All unprocessed files ", h("span", { class: "hint" }, "(for backfills)")));
  const preview = h("div", { id: "preview" });
  const detectOut = h("div", { id: "detected" });
  const msg = h("div", { class: "error", id: "files-msg" });
  const nextBtn = next(!!wiz.detected);
  const changed = () => { wiz.detected = null; nextBtn.disabled = true; detectOut.replaceChildren(); };
  prefix.addEventListener("input", () => { wiz.prefix = prefix.value.trim(); changed(); });
  pattern.addEventListener("input", () => { wiz.pattern = pattern.value.trim(); changed(); });
  format.addEventListener("change", () => { wiz.format = format.value; wiz.formatOptions = {}; renderOptions(); changed(); });
  renderOptions();
  let newest = null;
  async function list() {
    const q = new URLSearchParams({ prefix: wiz.prefix, pattern: wiz.pattern, limit: "50" });
    const r = await api("GET", `/connections/${encodeURIComponent(wiz.connection)}/list-files?${q}`);
    wiz.suggestedTable = r.suggested_table || "";
    return r;
  }
  async function doPreview() {
    showError({}, null);
    preview.replaceChildren(spinner("Listing files…"));
    try {
      const r = await list();
      if (!r.files.length) { preview.replaceChildren(); showError({ message: r.message, details: { fields: [{ field: "file_pattern", message: r.message }] } }, msg); return; }
      newest = r.files.find((f) => !f.over_limit) || null;
      const row = (f) => h("tr", { class: f.over_limit ? "over" : "" }, h("td", { text: f.name }), h("td", { text: size(f.size) }), h("td", { text: when(f.last_modified) }),
        h("td", { text: f.over_limit ? `over the ${size(r.max_file_size)} limit` : "" }));
      const rows = h("tbody", {}, r.files.map(row));
      // A folder too large to sort, or with more files than shown: browse it by name, a
      // page at a time (each page lists only itself).
      const more = h("div", { class: "form-actions" });
      let cursor = "";
      async function page() {
        const q = new URLSearchParams({ prefix: wiz.prefix, pattern: wiz.pattern, limit: "100", order: "name" });
        if (cursor) q.set("cursor", cursor);
        const p = await api("GET", `/connections/${encodeURIComponent(wiz.connection)}/list-files?${q}`);
        if (!cursor) rows.replaceChildren();
        p.files.forEach((f) => rows.append(row(f)));
        cursor = p.next_cursor || "";
        more.replaceChildren(cursor ? h("button", { id: "files-more", onclick: () => page().catch((e) => showError(e, msg)) }, "Next page") : h("span", { class: "hint" }, "End of the folder."));
      }
      const bigger = !r.complete || r.count > r.files.length;
      if (bigger) more.replaceChildren(h("button", { id: "files-by-name", onclick: () => page().catch((e) => showError(e, msg)) }, "Browse all by name"));
      preview.replaceChildren(h("table", { id: "files" }, h("thead", {}, h("tr", {}, ["File", "Size", "Last modified", ""].map((t) => h("th", { text: t })))), rows),
        h("p", { class: "hint" }, r.complete ? `${r.count} matching file(s), newest first.` : `The newest of the first ${r.count} matching file(s); the folder holds more.`), more);
    } catch (e) { preview.replaceChildren(); showError(e, msg); }
  }
  async function doDetect() {
    showError({}, null);
    detectOut.replaceChildren(spinner("Detecting schema…"));
    try {
      if (!newest) {
        const r = await list();
        newest = r.files.find((f) => !f.over_limit);
        if (!newest) {
          const message = r.message || "No file within the size limit matches.";
          throw { message, details: { fields: [{ field: "file_pattern", message }] } };
        }
      }
      const d = await api("POST", `/connections/${encodeURIComponent(wiz.connection)}/detect-file-schema`, { file_path: newest.name, file_format: wiz.format, format_options: wiz.formatOptions });
      wiz.detected = d;
      wiz.columns = d.columns.map((c) => ({ name: c.name, bigquery_type: c.bigquery_type, bigquery_mode: c.bigquery_mode }));
      if (!wiz.table) wiz.table = wiz.suggestedTable || wiz.name.replace(/-/g, "_");
      detectOut.replaceChildren(h("table", { id: "schema" }, h("thead", {}, h("tr", {}, ["Column", "Type", "Sample values"].map((t) => h("th", { text: t })))),
        h("tbody", {}, d.columns.map((c) => h("tr", {}, h("td", { text: c.name }), h("td", { text: typeOf(c) }), h("td", { class: "samples", text: c.sample_values.join(" · ") }))))),
        h("p", { class: "success", id: "detect-ok" }, `✓ Detected ${d.columns.length} columns in ${newest.name}` + (d.total_rows_estimated ? ` (about ${d.total_rows} rows)` : ` (${d.total_rows} rows)`)),
        foundOptions(d.format_options), foundNotes(d));
      nextBtn.disabled = false;
    } catch (e) { detectOut.replaceChildren(); showError(e, msg); }
  }
  body.append(h("div", { class: "card" },
    h("div", { class: "row" }, field("Folder prefix", prefix, "file_path_prefix", "searched recursively"), field("File pattern", pattern, "file_pattern", "e.g. transactions_*.csv, *.parquet")),
    field("Format", format, "file_format"), optionsPanel,
    h("label", {}, "Load strategy"), strategy,
    h("div", { class: "actions" }, h("button", { id: "preview-btn", onclick: doPreview }, "Preview matching files"), h("button", { id: "detect-btn", onclick: doDetect }, "Detect schema")),
    msg, preview, detectOut),
    h("div", { class: "actions" }, back(), nextBtn));
}

// What detection settled on, in the words of the format's fields ("Delimiter: Comma").
function foundOptions(resolved) {
  const info = resolved && formatInfo(resolved.file_format);
  if (!info || !info.options.length) return null;
  const parts = info.options.map((f) => {
    const v = resolved[f.name];
    if (v == null) return null;
    const shown = f.kind.type === "choice" ? (f.kind.choices.find(([c]) => c === v) || [v, JSON.stringify(v)])[1]
      : f.kind.type === "tristate" ? (v ? "yes" : "no") : Array.isArray(v) ? (v.length ? v.join(", ") : null) : v;
    if (shown == null || shown === "") return null;
    return `${f.label}: ${shown}`;
  }).filter(Boolean);
  return h("p", { class: "hint", id: "detected-options" }, "Found " + parts.join(", "));
}

// How sure detection is of the encoding, and what else it found (a title block skipped,
// null markers, a decimal comma), so a person can set an option where it guessed wrong.
function foundNotes(d) {
  const lines = [];
  if (d.encoding) {
    const sure = { certain: "certain", high: "likely", low: "a guess: check the sample values, and set the encoding if they look wrong" }[d.encoding.confidence] || d.encoding.confidence;
    lines.push(`Encoding ${d.encoding.encoding} (${d.encoding.reason}; ${sure})`);
  }
  (d.notes || []).forEach((n) => lines.push(n.charAt(0).toUpperCase() + n.slice(1)));
  if (!lines.length) return null;
  return h("ul", { class: "hint", id: "detected-notes" }, lines.map((t) => h("li", { text: t })));
}

function stepTable(app, body, connections, next, back) {
  const table = h("input", { type: "text", id: "table-name", value: wiz.table });
  const loadType = h("select", { id: "load-type" }, vocab.load_types.map(({ value, label }) => h("option", { value, selected: value === wiz.loadType }, label)));
  const destKind = h("select", { id: "destination-kind" }, vocab.destinations.map((d) => h("option", { value: d.name, selected: d.name === wiz.destKind }, d.label)));
  const destPanel = h("div", { id: "destination-fields" });
  const testMsg = h("div", { class: "success", id: "destination-msg", "aria-live": "polite" });
  let dest = null;
  const ready = () => matches(vocab.names.table.pattern, wiz.table) && dest.valid();
  let nextBtn;
  const renderDest = () => {
    const info = destinationInfo(wiz.destKind);
    const values = wiz.destination.kind === wiz.destKind ? wiz.destination : {};
    dest = fieldsForm(info.fields, values, { prefix: "dest", errPrefix: "destination.", changed: () => { testMsg.textContent = ""; if (nextBtn) nextBtn.disabled = !ready(); } });
    destPanel.replaceChildren(dest.element);
  };
  renderDest();
  const keep = () => {
    wiz.destination = { kind: wiz.destKind, ...dest.value() };
    const info = destinationInfo(wiz.destKind);
    const described = dest.describe();
    wiz.destinationText = described ? `${info.label} (${described})` : info.label;
  };
  nextBtn = next(ready(), keep);
  table.addEventListener("input", () => {
    wiz.table = table.value.trim();
    document.getElementById("err-table_name").textContent = wiz.table && !matches(vocab.names.table.pattern, wiz.table) ? vocab.names.table.message : "";
    nextBtn.disabled = !ready();
  });
  loadType.addEventListener("change", () => (wiz.loadType = loadType.value));
  destKind.addEventListener("change", () => { wiz.destKind = destKind.value; renderDest(); testMsg.textContent = ""; nextBtn.disabled = !ready(); });
  async function testDestination() {
    keep();
    showError({}, null, destCard);
    testMsg.replaceChildren(spinner("Connecting…"));
    try {
      const r = await api("POST", "/destinations/test", { destination: wiz.destination });
      testMsg.textContent = "✓ " + r.message;
    } catch (e) { testMsg.textContent = ""; showError(e, destCard.querySelector("#err-destination"), destCard); }
  }
  const rows = wiz.columns.map((c, i) => {
    const sel = h("select", { id: `type-${i}`, "aria-label": `Type of ${c.name}` }, vocab.warehouse_types.map((t) => h("option", { value: t, selected: t === c.bigquery_type }, t)));
    sel.addEventListener("change", () => (c.bigquery_type = sel.value));
    const samples = wiz.detected.columns[i].sample_values.join(" · ");
    // An array's values take the chosen type; making it JSON loads each array as its text.
    const array = c.bigquery_mode === "REPEATED" ? h("span", { class: "hint" }, "array of ") : null;
    // The table's name for the column, and whether it is loaded at all.
    wiz.renames = wiz.renames || {};
    wiz.drops = wiz.drops || [];
    const as = h("input", { id: `name-${i}`, "aria-label": `Table name of ${c.name}`, value: wiz.renames[c.name] || c.name,
      oninput: () => { const v = as.value.trim(); if (v && v !== c.name) wiz.renames[c.name] = v; else delete wiz.renames[c.name]; } });
    const load = h("input", { type: "checkbox", id: `load-${i}`, "aria-label": `Load ${c.name}`, checked: !wiz.drops.includes(c.name),
      onchange: () => { wiz.drops = wiz.drops.filter((d) => d !== c.name); if (!load.checked) wiz.drops.push(c.name); } });
    return h("tr", {}, h("td", {}, load, " ", c.name), h("td", {}, as), h("td", {}, array, sel), h("td", { class: "samples", text: samples }));
  });
  const derived = h("textarea", { id: "derived-columns", rows: 2, placeholder: "source_system = 'crm'\namount_cents = CAST(amount * 100 AS BIGINT)",
    oninput: () => (wiz.derived = derived.value.split("\n").map((l) => l.trim()).filter(Boolean)) }, (wiz.derived || []).join("\n"));
  const destCard = h("div", { class: "card" }, field("Destination", destKind, "destination_kind"), destPanel,
    h("div", { class: "form-actions" }, h("button", { id: "destination-test", onclick: testDestination }, "Test destination"), testMsg),
    h("div", { class: "error", id: "err-destination", "aria-live": "polite" }),
    field("Table name", table, "table_name", "optionally schema.table"), field("Load type", loadType, "load_type"),
    h("h2", { text: "Columns" }), h("table", { id: "edit-schema" }, h("thead", {}, h("tr", {}, ["Load · column", "Table column", "Type", "Sample values"].map((t) => h("th", { text: t })))), h("tbody", {}, rows)),
    field("Derived columns", derived, "column_mapping", "columns the file does not have, one per line: column = SQL expression of the row (a constant, or of the columns above)"));
  body.append(destCard, h("div", { class: "actions" }, back(), nextBtn));
}

function stepReview(app, body, connections, next, back) {
  const summary = h("dl", { class: "summary", id: "summary" });
  const info = formatInfo(wiz.format);
  const options = Object.entries(wiz.formatOptions).map(([k, v]) => `${(info.options.find((f) => f.name === k) || { label: k }).label} ${JSON.stringify(v)}`);
  const renderSummary = () => summary.replaceChildren(...[
    ["Job", wiz.name], ["Connection", wiz.connection], ["Files", (wiz.prefix ? wiz.prefix + "/" : "") + wiz.pattern],
    ["Format", info.label + (options.length ? ` (${options.join(", ")})` : info.options.length ? " (detected)" : "")],
    ["Strategy", wiz.latestOnly ? "latest file only" : "all unprocessed files"], ["Destination", wiz.destinationText],
    ["Table", `${wiz.table} (${wiz.loadType})`], ["Columns", [...wiz.columns.filter((c) => !(wiz.drops || []).includes(c.name)).map((c) => `${(wiz.renames || {})[c.name] || c.name} ${typeOf(c)}`),
      ...(wiz.derived || []).map((d) => `${d.split("=")[0].trim()} (set)`)].join(", ")],
    ["Schedule", `${scheduleText(wiz)} — ${describeSchedule(scheduleText(wiz))}`], ["Timezone", wiz.timezone || "UTC"],
  ].flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
  const fields = scheduleFields(wiz, renderSummary);
  renderSummary();
  // How the job treats files that change after they are loaded, or are still arriving.
  wiz.changedFiles = wiz.changedFiles || "reload";
  const changed = h("select", { id: "changed-files", onchange: () => (wiz.changedFiles = changed.value) },
    vocab.changed_files.map((c) => h("option", { value: c.value, selected: c.value === wiz.changedFiles }, `${c.value}: ${c.label}`)));
  wiz.schemaPolicy = wiz.schemaPolicy || "fail";
  const policy = h("select", { id: "schema-policy", onchange: () => (wiz.schemaPolicy = policy.value) },
    vocab.schema_policies.map((c) => h("option", { value: c.value, selected: c.value === wiz.schemaPolicy }, `${c.value}: ${c.label}`)));
  const settle = h("input", { type: "number", id: "settle-time", min: 0, value: wiz.settle || 0, oninput: () => (wiz.settle = Number(settle.value || 0)) });
  const marker = h("input", { id: "ready-marker", value: wiz.marker || "", placeholder: "_SUCCESS", oninput: () => (wiz.marker = marker.value.trim()) });
  const expansion = h("input", { type: "number", id: "max-expansion", min: 1, value: wiz.expansion || 20, oninput: () => (wiz.expansion = Number(expansion.value || 20)) });
  const entries = h("input", { id: "archive-entries", value: wiz.entries || "", placeholder: "data/*.csv", oninput: () => (wiz.entries = entries.value.trim()) });
  // Row rules, kept in the wizard's state as typed (one per line).
  const rowRules = rowRuleFields("wiz-", wiz.rowRules || {});
  const keepRules = () => {
    const b = rowRules.body();
    wiz.rowRules = { transforms: b.transforms.map((t) => ({ column: t.split("=")[0].trim(), sql: t.slice(t.indexOf("=") + 1).trim() })), filters: b.filters, rules: [], max_rejected: b.max_rejected,
      dedup: b.dedup_key ? { key: b.dedup_key.split(",").map((k) => k.trim()).filter(Boolean), keep: b.dedup_keep } : null };
    wiz.ruleLines = b.rules;
  };
  const rulesCard = h("div", { class: "card", oninput: keepRules }, h("h2", { text: "Row rules" }),
    h("p", { class: "hint", text: "SQL over each row, run by DuckDB as the file streams: transforms first, then filters, then rules. Bad rows can be quarantined instead of failing their file." }), ...rowRules.fields);
  if (wiz.ruleLines) rulesCard.querySelector("#wiz-rules").value = wiz.ruleLines.join("\n");
  const policies = h("div", { class: "card" }, h("h2", { text: "Files that change or are still arriving" }),
    field("Changed files", changed, "changed_files", "a file whose content changed after it was loaded; a byte-identical copy is never loaded twice"),
    field("Schema changes", policy, "schema_policy", "a file whose columns differ from the job's (matched by name): refused, added to the table, widened, or rescued into _rescued"),
    h("div", { class: "row" }, field("Settle time (seconds)", settle, "settle_time_seconds", "take a file once it is this old; 0: at once"),
      field("Ready marker", marker, "ready_marker", "take a folder's files once this file is in it; empty: none")),
    h("div", { class: "row" }, field("Max expansion", expansion, "max_expansion", "a compressed file may inflate to this many times its size (at least 64 MiB)"),
      field("Zip entries", entries, "archive_entries", "a glob on the paths inside a zip archive; empty: every entry of the format")));
  const msg = h("div", { class: "error", id: "create-msg" });
  async function create() {
    try {
      const { job } = await api("POST", "/jobs", {
        name: wiz.name, connection_id: wiz.connection, file_path_prefix: wiz.prefix, file_pattern: wiz.pattern,
        file_format: wiz.format, file_format_options: wiz.formatOptions, load_latest_only: wiz.latestOnly,
        schema_fingerprint: wiz.detected.schema_fingerprint, load_type: wiz.loadType, table_name: wiz.table,
        schema: wiz.columns, schedule: scheduleText(wiz), timezone: wiz.timezone || "UTC", destination: wiz.destination,
        changed_files: wiz.changedFiles, settle_time_seconds: wiz.settle || 0, ready_marker: wiz.marker || "",
        max_expansion: wiz.expansion || 20, archive_entries: wiz.entries || "", schema_policy: wiz.schemaPolicy,
        column_mapping: { rename: wiz.renames || {}, drop: wiz.drops || [], set: wiz.derived || [] },
        ...rowRules.body(),
      });
      wiz = null;
      location.hash = `#/jobs/${encodeURIComponent(job.name)}`;
    } catch (e) { showError(e, msg); }
  }
  const slots = ["name", "table_name", "destination", "schema_fingerprint", "column_mapping", "file_pattern", "changed_files", "settle_time_seconds", "ready_marker", ...vocab.destinations.flatMap((d) => d.fields.map((f) => "destination." + f.name))];
  body.append(h("div", { class: "card" }, fields, h("div", { class: "error", id: "err-schedule_detail" })), policies, rulesCard,
    h("div", { class: "card" }, h("h2", { text: "Review" }), summary, [...new Set(slots)].map((s) => h("div", { class: "error", id: "err-" + s })), msg),
    h("div", { class: "actions" }, back(), h("button", { class: "primary", id: "create", onclick: create }, "Create job")));
}

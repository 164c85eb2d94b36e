// sluice web UI: a jobs list, connections, the "+ ETL job" wizard and a job page.
// Plain JavaScript over the JSON API; nothing is fetched from outside this server.
"use strict";

const app = document.getElementById("app");
const TYPES = ["STRING", "INT64", "FLOAT64", "NUMERIC", "BOOL", "DATE", "TIMESTAMP", "JSON", "BYTES"];

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c.nodeType ? c : String(c));
  return el;
}

async function api(method, path, body) {
  const res = await fetch("/api" + path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({ status: "error", message: res.statusText }));
  if (data.status === "error") throw data;
  return data;
}

function size(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}
const when = (t) => (t ? new Date(t).toLocaleString() : "");
const spinner = (text) => h("span", { role: "status" }, h("span", { class: "spinner" }), text);

// Shows an API error beside the field it names, or in `fallback`.
function showError(err, fallback) {
  document.querySelectorAll(".error").forEach((e) => (e.textContent = ""));
  const fields = (err.details && err.details.fields) || [];
  let shown = false;
  for (const f of fields) {
    const slot = document.getElementById("err-" + f.field);
    if (slot) { slot.textContent = f.message; shown = true; }
  }
  if (!shown && fallback) fallback.textContent = err.message || String(err);
}

function field(label, input, name, hint) {
  return h("div", {}, h("label", { for: input.id }, label, hint ? h("span", { class: "hint" }, " — " + hint) : null),
    input, h("div", { class: "error", id: "err-" + name, "aria-live": "polite" }));
}

// ---- jobs list ----
async function jobsPage() {
  app.replaceChildren(h("h1", { text: "Jobs" }), spinner("Loading…"));
  const { jobs } = await api("GET", "/jobs");
  const rows = await Promise.all(jobs.map(async (j) => {
    const { runs } = await api("GET", `/jobs/${encodeURIComponent(j.name)}/runs`);
    const last = runs[0];
    return h("tr", {},
      h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(j.name)}` }, j.name)),
      h("td", { text: j.connection }),
      h("td", { text: (j.file_path_prefix ? j.file_path_prefix + "/" : "") + j.file_pattern }),
      h("td", { text: j.table_name }),
      h("td", { text: j.schedule }),
      h("td", { text: j.next_run_at ? when(j.next_run_at) : "—" }),
      h("td", {}, last ? h("span", { class: "badge " + last.status }, last.status.replace("_", " ")) : "never run"));
  }));
  app.replaceChildren(h("h1", { text: "Jobs" }), h("div", { class: "card" }, jobs.length
    ? h("table", {}, h("thead", {}, h("tr", {}, ["Job", "Connection", "Files", "Table", "Schedule", "Next run", "Last run"].map((t) => h("th", { text: t })))), h("tbody", {}, rows))
    : h("p", {}, "No jobs yet. ", h("a", { href: "#/new" }, "Create one with + ETL job."))));
}

// ---- connections ----
// Settings per provider: [key, label, kind, hint]. Secrets are write-only on the server.
const PROVIDER_FIELDS = {
  local: [["path", "Folder", "text", "an absolute path on the server"]],
  s3: [["bucket", "Bucket", "text"], ["prefix", "Prefix", "text", "optional"], ["region", "Region", "text", "e.g. eu-west-1"],
    ["access_key_id", "Access key id", "text", "empty: the default AWS credential chain"], ["secret_access_key", "Secret access key", "password"],
    ["endpoint", "Endpoint", "text", "S3-compatible stores only"], ["path_style", "Path-style addressing", "checkbox"], ["allow_http", "Allow http://", "checkbox"]],
  gcs: [["bucket", "Bucket", "text"], ["prefix", "Prefix", "text", "optional"],
    ["service_account_json", "Service-account key (JSON)", "textarea", "empty: application default credentials"]],
  azure: [["account", "Storage account", "text"], ["container", "Container", "text"], ["prefix", "Prefix", "text", "optional"],
    ["access_key", "Account key", "password"], ["sas_token", "SAS token", "password", "instead of the account key"]],
};

function connectionForm(onSaved) {
  const name = h("input", { type: "text", id: "conn-name", placeholder: "landing" });
  const provider = h("select", { id: "conn-provider" }, [["local", "Local folder"], ["s3", "Amazon S3"], ["gcs", "Google Cloud Storage"], ["azure", "Azure Blob"]].map(([v, t]) => h("option", { value: v }, t)));
  const settings = h("div", { id: "conn-settings" });
  const inputs = {};
  const render = () => {
    for (const k of Object.keys(inputs)) delete inputs[k];
    settings.replaceChildren(...PROVIDER_FIELDS[provider.value].map(([key, label, kind, hint]) => {
      const id = "conn-" + key.replace(/_/g, "-");
      if (kind === "checkbox") {
        inputs[key] = h("input", { type: "checkbox", id });
        return h("div", {}, h("label", { class: "radio" }, inputs[key], label), h("div", { class: "error", id: "err-" + key }));
      }
      inputs[key] = kind === "textarea" ? h("textarea", { id, rows: 4 }) : h("input", { type: kind, id, autocomplete: "off" });
      return field(label, inputs[key], key, hint);
    }));
  };
  provider.addEventListener("change", render);
  render();
  const msg = h("div", { class: "error", id: "conn-msg", "aria-live": "polite" });
  const ok = h("div", { class: "success", "aria-live": "polite" });
  async function save() {
    const body = { name: name.value.trim(), provider: provider.value };
    for (const [key, input] of Object.entries(inputs)) {
      if (input.type === "checkbox") body[key] = input.checked;
      else if (input.value.trim()) body[key] = input.value.trim();
    }
    ok.textContent = "";
    try {
      await api("POST", "/connections", body);
    } catch (e) { showError(e, msg); return; }
    try {
      const t = await api("POST", `/connections/${encodeURIComponent(body.name)}/test`);
      ok.textContent = "✓ Connected: " + t.message;
    } catch (e) { msg.textContent = "Saved, but the test failed: " + e.message; }
    onSaved(body.name);
  }
  return h("div", { class: "card" }, h("h2", { text: "Add a connection" }),
    h("div", { class: "row" }, field("Name", name, "name"), field("Provider", provider, "provider")), settings,
    h("div", { class: "actions" }, h("span"), h("button", { class: "primary", id: "conn-save", onclick: save }, "Save and test")), msg, ok);
}

async function connectionsPage() {
  const { connections } = await api("GET", "/connections");
  const list = h("tbody", {}, connections.map((c) => {
    const result = h("span", { "aria-live": "polite" });
    return h("tr", {}, h("td", { text: c.name }), h("td", { text: c.config.provider }),
      h("td", { text: c.config.path || c.config.bucket || c.config.container }),
      h("td", {}, h("button", { onclick: async () => {
        result.replaceChildren(spinner("Testing…"));
        try { const t = await api("POST", `/connections/${encodeURIComponent(c.name)}/test`); result.textContent = "✓ " + t.message; }
        catch (e) { result.textContent = "✗ " + e.message; }
      } }, "Test"), " ", result));
  }));
  app.replaceChildren(h("h1", { text: "Connections" }),
    h("div", { class: "card" }, h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Provider", "Location", ""].map((t) => h("th", { text: t })))), list)),
    connectionForm(() => connectionsPage()));
}

// ---- the wizard ----
const STEPS = ["Name & connection", "Files", "Table", "Schedule & review"];

function newWizard() {
  return { step: 0, name: "", connection: "", prefix: "", pattern: "*.csv", format: "csv", delimiter: ",", encoding: "utf-8", header: true,
    latestOnly: true, detected: null, columns: [], table: "", loadType: "append", schedule: "manual", time: "02:00", day: "mon", minute: "0", cron: "" };
}
let wiz = newWizard();

function scheduleText() {
  switch (wiz.schedule) {
    case "hourly": return "hourly@" + String(wiz.minute).padStart(2, "0");
    case "daily": return "daily@" + wiz.time;
    case "weekly": return `weekly@${wiz.day}@${wiz.time}`;
    case "cron": return wiz.cron;
    default: return "manual";
  }
}

function tableFromPattern(p) {
  const name = p.split("/").pop().split(/[*?[{]/)[0].split(".")[0];
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "") || wiz.name.replace(/-/g, "_");
}

function formatOptions() {
  return wiz.format === "csv" ? { delimiter: wiz.delimiter, encoding: wiz.encoding, has_header: wiz.header } : {};
}

async function wizardPage() {
  const { connections } = await api("GET", "/connections");
  const body = h("div");
  const stepper = h("ol", { class: "steps", "aria-label": "Steps" }, STEPS.map((s, i) =>
    h("li", { class: i === wiz.step ? "current" : i < wiz.step ? "done" : "", "aria-current": i === wiz.step ? "step" : null }, `${i + 1}. ${s}`)));
  app.replaceChildren(h("h1", { text: "New ETL job" }), stepper, body);
  const next = (ok) => h("button", { class: "primary", id: "next", disabled: !ok, onclick: () => { wiz.step++; wizardPage(); } }, "Next");
  const back = () => h("button", { id: "back", onclick: () => { wiz.step--; wizardPage(); } }, "Back");

  if (wiz.step === 0) {
    const name = h("input", { type: "text", id: "job-name", value: wiz.name, placeholder: "daily-transactions" });
    const conn = h("select", { id: "connection" }, h("option", { value: "" }, "Choose a connection…"),
      connections.map((c) => h("option", { value: c.name, selected: c.name === wiz.connection }, `${c.name} (${c.config.provider})`)));
    const valid = () => /^[A-Za-z0-9_-]{1,64}$/.test(wiz.name) && wiz.connection;
    const nextBtn = next(valid());
    name.addEventListener("input", () => {
      wiz.name = name.value.trim();
      document.getElementById("err-name").textContent = wiz.name && !/^[A-Za-z0-9_-]{1,64}$/.test(wiz.name) ? "Use letters, digits, - and _ (up to 64)." : "";
      nextBtn.disabled = !valid();
    });
    conn.addEventListener("change", () => { wiz.connection = conn.value; nextBtn.disabled = !valid(); });
    body.append(h("div", { class: "card" }, field("Job name", name, "name"), field("Connection", conn, "connection_id")),
      connectionForm(async (n) => { wiz.connection = n; await wizardPage(); }),
      h("div", { class: "actions" }, h("span"), nextBtn));
    name.focus();
    return;
  }

  if (wiz.step === 1) {
    const prefix = h("input", { type: "text", id: "prefix", value: wiz.prefix, placeholder: "exports/daily (optional)" });
    const pattern = h("input", { type: "text", id: "pattern", value: wiz.pattern });
    const format = h("select", { id: "format" }, [["csv", "CSV"], ["parquet", "Parquet"], ["json", "JSON / JSONL"]].map(([v, t]) => h("option", { value: v, selected: v === wiz.format }, t)));
    const delimiter = h("select", { id: "delimiter" }, [[",", "Comma"], ["|", "Pipe"], ["\t", "Tab"], [";", "Semicolon"]].map(([v, t]) => h("option", { value: v, selected: v === wiz.delimiter }, t)));
    const encoding = h("select", { id: "encoding" }, [["utf-8", "UTF-8"], ["latin-1", "Latin-1"], ["iso-8859-1", "ISO-8859-1"]].map(([v, t]) => h("option", { value: v, selected: v === wiz.encoding }, t)));
    const header = h("input", { type: "checkbox", id: "header", checked: wiz.header });
    const csvPanel = h("div", { class: "row", id: "csv-options", hidden: wiz.format !== "csv" },
      field("Delimiter", delimiter, "delimiter"), field("Encoding", encoding, "encoding"),
      h("div", {}, h("label", { class: "radio" }, header, "First row is a header")));
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
    format.addEventListener("change", () => { wiz.format = format.value; csvPanel.hidden = wiz.format !== "csv"; changed(); });
    delimiter.addEventListener("change", () => { wiz.delimiter = delimiter.value; changed(); });
    encoding.addEventListener("change", () => { wiz.encoding = encoding.value; changed(); });
    header.addEventListener("change", () => { wiz.header = header.checked; changed(); });
    let newest = null;
    async function list() {
      const q = new URLSearchParams({ prefix: wiz.prefix, pattern: wiz.pattern, limit: "50" });
      return api("GET", `/connections/${encodeURIComponent(wiz.connection)}/list-files?${q}`);
    }
    async function doPreview() {
      showError({}, null);
      preview.replaceChildren(spinner("Listing files…"));
      try {
        const r = await list();
        if (!r.files.length) { preview.replaceChildren(); document.getElementById("err-file_pattern").textContent = r.message; return; }
        newest = r.files.find((f) => !f.over_limit) || null;
        preview.replaceChildren(h("table", { id: "files" }, h("thead", {}, h("tr", {}, ["File", "Size", "Last modified", ""].map((t) => h("th", { text: t })))),
          h("tbody", {}, r.files.map((f) => h("tr", { class: f.over_limit ? "over" : "" }, h("td", { text: f.name }), h("td", { text: size(f.size) }), h("td", { text: when(f.last_modified) }),
            h("td", { text: f.over_limit ? `over the ${size(r.max_file_size)} limit` : "" }))))),
          h("p", { class: "hint" }, `${r.count} matching file(s), newest first.`));
      } catch (e) { preview.replaceChildren(); showError(e, msg); }
    }
    async function doDetect() {
      showError({}, null);
      detectOut.replaceChildren(spinner("Detecting schema…"));
      try {
        if (!newest) { const r = await list(); newest = r.files.find((f) => !f.over_limit); if (!newest) throw { message: r.message || "No file within the size limit matches.", details: { fields: [{ field: "file_pattern", message: r.message || "No file within the size limit matches." }] } }; }
        const d = await api("POST", `/connections/${encodeURIComponent(wiz.connection)}/detect-file-schema`, { file_path: newest.name, file_format: wiz.format, format_options: formatOptions() });
        wiz.detected = d;
        wiz.columns = d.columns.map((c) => ({ name: c.name, bigquery_type: c.bigquery_type, bigquery_mode: c.bigquery_mode }));
        if (!wiz.table) wiz.table = tableFromPattern(wiz.pattern);
        detectOut.replaceChildren(h("table", { id: "schema" }, h("thead", {}, h("tr", {}, ["Column", "Type", "Sample values"].map((t) => h("th", { text: t })))),
          h("tbody", {}, d.columns.map((c) => h("tr", {}, h("td", { text: c.name }), h("td", { text: c.bigquery_type }), h("td", { class: "samples", text: c.sample_values.join(" · ") }))))),
          h("p", { class: "success", id: "detect-ok" }, `✓ Detected ${d.columns.length} columns in ${newest.name}` + (d.total_rows_estimated ? ` (about ${d.total_rows} rows)` : ` (${d.total_rows} rows)`)));
        nextBtn.disabled = false;
      } catch (e) { detectOut.replaceChildren(); showError(e, msg); }
    }
    body.append(h("div", { class: "card" },
      h("div", { class: "row" }, field("Folder prefix", prefix, "file_path_prefix", "searched recursively"), field("File pattern", pattern, "file_pattern", "e.g. transactions_*.csv, *.parquet")),
      field("Format", format, "file_format"), csvPanel,
      h("label", {}, "Load strategy"), strategy,
      h("div", { class: "actions" }, h("button", { id: "preview-btn", onclick: doPreview }, "Preview matching files"), h("button", { id: "detect-btn", onclick: doDetect }, "Detect schema")),
      msg, preview, detectOut),
      h("div", { class: "actions" }, back(), nextBtn));
    return;
  }

  if (wiz.step === 2) {
    const table = h("input", { type: "text", id: "table-name", value: wiz.table });
    const loadType = h("select", { id: "load-type" }, [["append", "Append rows"], ["replace", "Replace the table with each file"]].map(([v, t]) => h("option", { value: v, selected: v === wiz.loadType }, t)));
    const nextBtn = next(!!wiz.table);
    table.addEventListener("input", () => { wiz.table = table.value.trim(); nextBtn.disabled = !wiz.table; });
    loadType.addEventListener("change", () => (wiz.loadType = loadType.value));
    const rows = wiz.columns.map((c, i) => {
      const sel = h("select", { id: `type-${i}`, "aria-label": `Type of ${c.name}` }, TYPES.map((t) => h("option", { value: t, selected: t === c.bigquery_type }, t)));
      sel.addEventListener("change", () => (c.bigquery_type = sel.value));
      const samples = wiz.detected.columns[i].sample_values.join(" · ");
      return h("tr", {}, h("td", { text: c.name }), h("td", {}, sel), h("td", { class: "samples", text: samples }));
    });
    body.append(h("div", { class: "card" }, field("Table name", table, "table_name", "in the default DuckDB warehouse"), field("Load type", loadType, "load_type"),
      h("h2", { text: "Columns" }), h("table", { id: "edit-schema" }, h("thead", {}, h("tr", {}, ["Column", "Type", "Sample values"].map((t) => h("th", { text: t })))), h("tbody", {}, rows))),
      h("div", { class: "actions" }, back(), nextBtn));
    return;
  }

  // step 3: schedule and review
  const kind = h("select", { id: "schedule" }, [["manual", "Manual"], ["hourly", "Hourly"], ["daily", "Daily"], ["weekly", "Weekly"], ["cron", "Cron expression"]].map(([v, t]) => h("option", { value: v, selected: v === wiz.schedule }, t)));
  const detail = h("div", { id: "schedule-detail" });
  const summary = h("dl", { class: "summary", id: "summary" });
  const renderSummary = () => summary.replaceChildren(...[
    ["Job", wiz.name], ["Connection", wiz.connection], ["Files", (wiz.prefix ? wiz.prefix + "/" : "") + wiz.pattern],
    ["Format", wiz.format + (wiz.format === "csv" ? ` (delimiter ${JSON.stringify(wiz.delimiter)}, ${wiz.encoding}, ${wiz.header ? "header" : "no header"})` : "")],
    ["Strategy", wiz.latestOnly ? "latest file only" : "all unprocessed files"], ["Table", `${wiz.table} (${wiz.loadType})`],
    ["Columns", wiz.columns.map((c) => `${c.name} ${c.bigquery_type}`).join(", ")], ["Schedule", scheduleText()],
  ].flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
  const renderDetail = () => {
    const time = () => h("input", { type: "time", id: "schedule-time", value: wiz.time, oninput: (e) => { wiz.time = e.target.value; renderSummary(); } });
    const parts = {
      hourly: [field("At minute", h("input", { type: "number", id: "schedule-minute", min: 0, max: 59, value: wiz.minute, oninput: (e) => { wiz.minute = e.target.value; renderSummary(); } }), "minute")],
      daily: [field("At (UTC)", time(), "time")],
      weekly: [field("Day", h("select", { id: "schedule-day", onchange: (e) => { wiz.day = e.target.value; renderSummary(); } }, ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => h("option", { value: d, selected: d === wiz.day }, d))), "day"), field("At (UTC)", time(), "time")],
      cron: [field("Cron expression", h("input", { type: "text", id: "schedule-cron", value: wiz.cron, placeholder: "0 2 * * *", oninput: (e) => { wiz.cron = e.target.value; renderSummary(); } }), "cron")],
    };
    detail.replaceChildren(...(parts[wiz.schedule] || []));
  };
  kind.addEventListener("change", () => { wiz.schedule = kind.value; renderDetail(); renderSummary(); });
  renderDetail(); renderSummary();
  const msg = h("div", { class: "error", id: "create-msg" });
  async function create() {
    try {
      const { job } = await api("POST", "/jobs", {
        name: wiz.name, connection_id: wiz.connection, file_path_prefix: wiz.prefix, file_pattern: wiz.pattern,
        file_format: wiz.format, file_format_options: formatOptions(), load_latest_only: wiz.latestOnly,
        schema_fingerprint: wiz.detected.schema_fingerprint, load_type: wiz.loadType, table_name: wiz.table,
        schema: wiz.columns, schedule: scheduleText(),
      });
      wiz = newWizard();
      location.hash = `#/jobs/${encodeURIComponent(job.name)}`;
    } catch (e) { showError(e, msg); }
  }
  body.append(h("div", { class: "card" }, field("Schedule", kind, "schedule"), detail, h("div", { class: "error", id: "err-schedule_detail" })),
    h("div", { class: "card" }, h("h2", { text: "Review" }), summary, h("div", { class: "error", id: "err-name" }), h("div", { class: "error", id: "err-table_name" }), h("div", { class: "error", id: "err-schema_fingerprint" }), msg),
    h("div", { class: "actions" }, back(), h("button", { class: "primary", id: "create", onclick: create }, "Create job")));
}

// ---- a job ----
async function jobPage(name) {
  const path = `/jobs/${encodeURIComponent(name)}`;
  const { job } = await api("GET", path);
  const status = h("div", { id: "run-status", "aria-live": "polite" });
  const history = h("div", { id: "history" });
  const files = h("div", { id: "processed" });
  async function refresh() {
    const { runs } = await api("GET", path + "/runs");
    history.replaceChildren(runs.length ? h("table", { id: "runs" }, h("thead", {}, h("tr", {}, ["Run", "Status", "Started", "Seconds", "Files loaded", "Skipped", "Failed", "Rows", "Bytes"].map((t) => h("th", { text: t })))),
      h("tbody", {}, runs.map((r) => h("tr", {}, h("td", { text: r.id }), h("td", {}, h("span", { class: "badge " + r.status }, r.status.replace("_", " "))), h("td", { text: when(r.started_at) }),
        h("td", { text: r.finished_at ? ((new Date(r.finished_at) - new Date(r.started_at)) / 1000).toFixed(1) : "" }), h("td", { text: r.files_loaded }), h("td", { text: r.files_skipped }),
        h("td", { text: r.files_failed }), h("td", { class: "rows", text: r.rows_loaded.toLocaleString() }), h("td", { text: size(r.bytes_loaded) }))))) : h("p", { class: "hint" }, "No runs yet."));
    const { processed_files } = await api("GET", path + "/processed-files");
    files.replaceChildren(processed_files.length ? h("table", {}, h("thead", {}, h("tr", {}, ["File", "Rows", "Size", "Loaded"].map((t) => h("th", { text: t })))),
      h("tbody", {}, processed_files.map((p) => h("tr", {}, h("td", { text: p.file_path }), h("td", { text: p.rows_loaded.toLocaleString() }), h("td", { text: size(p.file_size_bytes) }), h("td", { text: when(p.processed_at) }))))) : h("p", { class: "hint" }, "No file loaded yet."));
  }
  async function runNow() {
    status.replaceChildren(spinner("Running…"));
    try {
      const { run_id } = await api("POST", path + "/run", {});
      for (;;) {
        const { run } = await api("GET", `/runs/${run_id}`);
        if (run.status !== "running") {
          const failed = run.files.filter((f) => f.outcome.startsWith("failed"));
          status.replaceChildren(h("span", { class: "badge " + run.status }, run.status.replace("_", " ")),
            ` run ${run.id}: ${run.files_loaded} file(s), ${run.rows_loaded.toLocaleString()} rows loaded`,
            ...failed.map((f) => h("div", { class: "error", text: f.message })));
          break;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    } catch (e) { status.replaceChildren(h("div", { class: "error", text: e.message })); }
    await refresh();
  }
  app.replaceChildren(h("h1", { text: job.name }),
    h("div", { class: "card" }, h("dl", { class: "summary" }, ...[["Connection", job.connection], ["Files", (job.file_path_prefix ? job.file_path_prefix + "/" : "") + job.file_pattern],
      ["Strategy", job.load_latest_only ? "latest file only" : "all unprocessed files"], ["Table", `${job.table_name} (${job.load_type})`], ["Schedule", job.schedule + (job.next_run_at ? ` (next run ${when(job.next_run_at)})` : "")],
      ["Columns", job.schema.map((c) => `${c.name} ${c.bigquery_type}`).join(", ")]].flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })])),
      h("div", { class: "actions" }, h("button", { class: "primary", id: "run-now", onclick: runNow }, "Run now"), status)),
    h("div", { class: "card" }, h("h2", { text: "Run history" }), history), h("div", { class: "card" }, h("h2", { text: "Processed files" }), files));
  await refresh();
}

async function route() {
  const hash = location.hash || "#/jobs";
  try {
    if (hash === "#/new") await wizardPage();
    else if (hash === "#/connections") await connectionsPage();
    else if (hash.startsWith("#/jobs/")) await jobPage(decodeURIComponent(hash.slice(7)));
    else await jobsPage();
  } catch (e) {
    app.replaceChildren(h("div", { class: "card error", text: e.message || String(e) }));
  }
  app.focus();
}
window.addEventListener("hashchange", route);
route();

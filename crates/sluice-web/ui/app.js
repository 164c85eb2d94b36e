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
  return add(el, ...children);
}
// Appends children, flattening arrays and leaving out null and false; `put` replaces them.
function add(el, ...children) {
  for (const c of children.flat(Infinity)) if (c != null && c !== false) el.append(c.nodeType ? c : String(c));
  return el;
}
const put = (el, ...children) => { el.replaceChildren(); return add(el, ...children); };

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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ACTIVE = ["queued", "running"];
const badge = (cls, text) => h("span", { class: "badge " + cls }, text || cls.replace(/_/g, " "));

// SVG elements, for the run chart.
function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
  for (const c of children.flat()) if (c != null) el.append(c.nodeType ? c : String(c));
  return el;
}

// A time as read in `timeZone`, e.g. "Thu, Nov 28, 2026, 02:00".
function whenIn(t, timeZone) {
  const opts = { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try { return new Intl.DateTimeFormat(undefined, { ...opts, timeZone }).format(new Date(t)); }
  catch { return new Intl.DateTimeFormat(undefined, { ...opts, timeZone: "UTC" }).format(new Date(t)) + " UTC"; }
}

// "in 6 hours", "2 days ago".
function relative(t) {
  const s = (new Date(t) - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const a = Math.abs(s);
  if (a < 90) return rtf.format(Math.round(s), "second");
  if (a < 90 * 60) return rtf.format(Math.round(s / 60), "minute");
  if (a < 36 * 3600) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86400), "day");
}

function seconds(r) {
  return r.finished_at ? (new Date(r.finished_at) - new Date(r.started_at)) / 1000 : null;
}
const fmtSeconds = (v) => (v >= 100 ? Math.round(v) : +v.toPrecision(v >= 1 ? 3 : 2)) + " s";

// ---- schedules ----
const DAYS = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" };

function describeSchedule(s) {
  let m;
  if (!s || s === "manual") return "Manual";
  if (s === "hourly") return "Hourly at :00";
  if ((m = /^hourly@(\d{1,2})$/.exec(s))) return `Hourly at :${m[1].padStart(2, "0")}`;
  if ((m = /^daily@(\d\d:\d\d)$/.exec(s))) return `Daily at ${m[1]}`;
  if ((m = /^weekly@(\w+)@(\d\d:\d\d)$/.exec(s))) return `Weekly on ${DAYS[m[1]] || m[1]} at ${m[2]}`;
  return `Cron: ${s}`;
}

// The form's fields for a schedule string (the inverse of scheduleText).
function parseSchedule(s) {
  const st = { schedule: "manual", time: "02:00", day: "mon", minute: "0", cron: "" };
  let m;
  if (!s || s === "manual") return st;
  if (s === "hourly") return { ...st, schedule: "hourly" };
  if ((m = /^hourly@(\d{1,2})$/.exec(s))) return { ...st, schedule: "hourly", minute: String(+m[1]) };
  if ((m = /^daily@(\d\d:\d\d)$/.exec(s))) return { ...st, schedule: "daily", time: m[1] };
  if ((m = /^weekly@(\w+)@(\d\d:\d\d)$/.exec(s))) return { ...st, schedule: "weekly", day: m[1], time: m[2] };
  return { ...st, schedule: "cron", cron: s };
}

function scheduleText(st) {
  switch (st.schedule) {
    case "hourly": return "hourly@" + String(st.minute).padStart(2, "0");
    case "daily": return "daily@" + st.time;
    case "weekly": return `weekly@${st.day}@${st.time}`;
    case "cron": return st.cron;
    default: return "manual";
  }
}

// When a job runs next, read in its own timezone; or why it does not.
function nextRunText(job) {
  if (job.paused) return "none while paused";
  if (!job.next_run_at) return job.schedule === "manual" ? "only when run by hand" : "—";
  return `${whenIn(job.next_run_at, job.timezone)} ${job.timezone} (${relative(job.next_run_at)})`;
}

// Schedule text for a job: its description, the timezone when not UTC, and "paused".
function scheduleCell(job) {
  return [h("span", { text: describeSchedule(job.schedule) }),
    job.schedule !== "manual" && job.timezone && job.timezone !== "UTC" ? h("span", { class: "hint" }, " " + job.timezone) : null,
    job.paused ? [" ", badge("paused")] : null];
}

const BROWSER_TZ = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { return ""; } })();
const ZONES = (() => { try { return Intl.supportedValuesOf("timeZone"); } catch { return []; } })();

// The schedule's kind, its details and the timezone, editing `st` in place; `changed` runs
// after every edit. The wizard and the job page share it.
function scheduleFields(st, changed) {
  const kind = h("select", { id: "schedule" }, [["manual", "Manual"], ["hourly", "Hourly"], ["daily", "Daily"], ["weekly", "Weekly"], ["cron", "Cron expression"]].map(([v, t]) => h("option", { value: v, selected: v === st.schedule }, t)));
  const detail = h("div", { id: "schedule-detail" });
  const tzNames = [];
  const inTz = () => { const n = h("span", { class: "hint" }, " — in " + (st.timezone || "UTC")); tzNames.push(n); return n; };
  const renderDetail = () => {
    tzNames.length = 0;
    const time = () => {
      const input = h("input", { type: "time", id: "schedule-time", value: st.time, oninput: (e) => { st.time = e.target.value; changed(); } });
      return h("div", {}, h("label", { for: "schedule-time" }, "At", inTz()), input, h("div", { class: "error", id: "err-time", "aria-live": "polite" }));
    };
    const parts = {
      hourly: [field("At minute", h("input", { type: "number", id: "schedule-minute", min: 0, max: 59, value: st.minute, oninput: (e) => { st.minute = e.target.value; changed(); } }), "minute")],
      daily: [time()],
      weekly: [field("Day", h("select", { id: "schedule-day", onchange: (e) => { st.day = e.target.value; changed(); } }, Object.entries(DAYS).map(([d, t]) => h("option", { value: d, selected: d === st.day }, t))), "day"), time()],
      cron: [field("Cron expression", h("input", { type: "text", id: "schedule-cron", value: st.cron, placeholder: "0 2 * * *", spellcheck: "false", oninput: (e) => { st.cron = e.target.value; changed(); } }), "cron", "minute hour day month weekday")],
    };
    detail.replaceChildren(...(parts[st.schedule] || []));
  };
  kind.addEventListener("change", () => { st.schedule = kind.value; renderDetail(); changed(); });

  const tz = h("input", { type: "text", id: "timezone", value: st.timezone, list: "tz-list", autocomplete: "off", spellcheck: "false", placeholder: "UTC" });
  const choices = h("div", { class: "chips" });
  const renderChoices = () => put(choices, 
    st.timezone !== "UTC" ? h("button", { type: "button", class: "chip", id: "tz-utc", onclick: () => setTz("UTC") }, "UTC") : null,
    BROWSER_TZ && BROWSER_TZ !== st.timezone ? h("button", { type: "button", class: "chip", id: "tz-browser", onclick: () => setTz(BROWSER_TZ) }, `Use my timezone (${BROWSER_TZ})`) : null);
  const setTz = (v) => { tz.value = v; st.timezone = v; onTz(); tz.focus(); };
  const onTz = () => { for (const n of tzNames) n.textContent = " — in " + (st.timezone || "UTC"); renderChoices(); changed(); };
  tz.addEventListener("input", () => { st.timezone = tz.value.trim(); onTz(); });
  const tzField = field("Timezone", tz, "timezone", "the schedule's times are read in it, daylight saving included");
  tzField.insertBefore(choices, tzField.lastChild);
  renderDetail(); renderChoices();
  tzField.classList.add("tz-field");
  return [h("div", { class: "row" }, field("Frequency", kind, "schedule"), detail), tzField,
    h("datalist", { id: "tz-list" }, ["UTC", ...ZONES.filter((z) => z !== "UTC")].map((z) => h("option", { value: z })))];
}

// Shows an API error beside the field it names, or in `fallback`; clears the old errors
// within `scope`.
function showError(err, fallback, scope = document) {
  scope.querySelectorAll(".error").forEach((e) => (e.textContent = ""));
  const fields = (err.details && err.details.fields) || [];
  let shown = false;
  for (const f of fields) {
    const slot = document.getElementById("err-" + f.field);
    // Beside its field, a message need not repeat the field's path ("alerts.freshness_hours: …").
    const text = f.message.startsWith(f.field + ": ") ? f.message.slice(f.field.length + 2) : f.message;
    if (slot) { slot.textContent = text; shown = true; }
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
    return h("tr", { "data-job": j.name },
      h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(j.name)}` }, j.name)),
      h("td", { text: j.connection }),
      h("td", { text: (j.file_path_prefix ? j.file_path_prefix + "/" : "") + j.file_pattern }),
      h("td", { text: j.table_name }),
      h("td", { class: "schedule" }, scheduleCell(j)),
      h("td", { class: "next-run" }, j.paused ? h("span", { class: "hint" }, "paused") : j.next_run_at
        ? h("span", { title: `${j.next_run_at} (${relative(j.next_run_at)})` }, whenIn(j.next_run_at, j.timezone), h("span", { class: "hint" }, " " + j.timezone)) : h("span", { class: "hint" }, "—")),
      h("td", {}, last ? h("a", { href: `#/jobs/${encodeURIComponent(j.name)}/runs/${last.id}`, title: `Run ${last.id}, ${when(last.started_at)}` }, badge(last.status)) : h("span", { class: "hint" }, "never run")));
  }));
  app.replaceChildren(h("h1", { text: "Jobs" }), h("div", { class: "card" }, jobs.length
    ? h("table", { id: "jobs" }, h("thead", {}, h("tr", {}, ["Job", "Connection", "Files", "Table", "Schedule", "Next run", "Last run"].map((t) => h("th", { text: t })))), h("tbody", {}, rows))
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
    latestOnly: true, detected: null, columns: [], table: "", loadType: "append", destKind: "duckdb", pgUrl: "",
    bq: { project: "", dataset: "", location: "US", key: "", endpoint: "", pushDown: false },
    ...parseSchedule("manual"), timezone: "UTC" };
}

// A PostgreSQL URL with its password shown as ••••, as the server shows it.
function redactUrl(url) {
  return url.replace(/^([a-z]+:\/\/[^:/?#@]*:)[^/?#]*@/i, "$1••••@").replace(/([?&]password=)[^&]*/i, "$1••••");
}

function destinationText(d) {
  if (!d || d.kind === "duckdb") return d && d.path ? `DuckDB ${d.path}` : "DuckDB (default warehouse)";
  if (d.kind === "bigquery") {
    const auth = { service_account_key: "service-account key", application_default: "application default credentials", none: "no credentials" }[d.auth.type] || d.auth.type;
    return `BigQuery ${d.project}.${d.dataset} (${d.location}, ${auth}${d.push_down ? ", push-down" : ""})`;
  }
  return `PostgreSQL ${redactUrl(d.url)}`;
}

const pgUrlOk = (u) => /^postgres(ql)?:\/\/[^/]/.test(u);
const bqName = /^[A-Za-z0-9_-]+$/;
const bqOk = (b) => bqName.test(b.project) && /^\w+$/.test(b.dataset) && !!b.location;

function wizardDestination() {
  if (wiz.destKind === "postgres") return { kind: "postgres", url: wiz.pgUrl };
  if (wiz.destKind === "bigquery") {
    const b = wiz.bq;
    const d = { kind: "bigquery", project: b.project, dataset: b.dataset, location: b.location, push_down: b.pushDown,
      auth: b.key.trim() ? { type: "service_account_key", key_json: b.key } : b.endpoint ? { type: "none" } : { type: "application_default" } };
    if (b.endpoint) d.endpoint = b.endpoint;
    return d;
  }
  return { kind: "duckdb" };
}
let wiz = newWizard();

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
    const destKind = h("select", { id: "destination-kind" }, [["duckdb", "DuckDB (default warehouse)"], ["postgres", "PostgreSQL"], ["bigquery", "BigQuery"]].map(([v, t]) => h("option", { value: v, selected: v === wiz.destKind }, t)));
    const pgUrl = h("input", { type: "password", id: "destination-url", value: wiz.pgUrl, autocomplete: "off", placeholder: "postgres://user:password@host:5432/database?sslmode=prefer" });
    const pgField = field("PostgreSQL URL", pgUrl, "destination", "the user needs CREATE on the database (new schemas) or the schema; stored sealed, shown with the password as ••••");
    const bqInput = (key, { tag, ...attrs }) => {
      const el = h(tag || "input", { id: `bq-${key}`, autocomplete: "off", ...attrs });
      el.value = wiz.bq[key];
      el.addEventListener("input", () => { wiz.bq[key] = el.value.trim(); nextBtn.disabled = !ready(); });
      return el;
    };
    const pushDown = h("input", { type: "checkbox", id: "bq-push-down", checked: wiz.bq.pushDown });
    pushDown.addEventListener("change", () => (wiz.bq.pushDown = pushDown.checked));
    const bqPanel = h("div", { id: "bigquery-panel" },
      h("div", { class: "row" }, field("Project", bqInput("project", { type: "text", placeholder: "my-project" }), "destination.project"),
        field("Dataset", bqInput("dataset", { type: "text", placeholder: "raw" }), "destination.dataset", "or schema.table"),
        field("Location", bqInput("location", { type: "text" }), "destination.location", "US, EU, europe-west1 …")),
      field("Service-account key (JSON)", bqInput("key", { tag: "textarea", rows: 3, placeholder: "{\"type\": \"service_account\", …} — empty: application default credentials" }), "destination.auth",
        "needs roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project; stored sealed, shown as ••••"),
      field("API endpoint", bqInput("endpoint", { type: "text", placeholder: "https://bigquery.googleapis.com" }), "destination.endpoint", "only for a private endpoint or an emulator (then no credentials are sent)"),
      h("label", { class: "check" }, pushDown, " Push-down: BigQuery reads UTF-8 CSV files in Google Cloud Storage itself"));
    const ready = () => !!wiz.table && (wiz.destKind !== "postgres" || pgUrlOk(wiz.pgUrl)) && (wiz.destKind !== "bigquery" || bqOk(wiz.bq));
    const nextBtn = next(ready());
    const showDest = () => { pgField.hidden = wiz.destKind !== "postgres"; bqPanel.hidden = wiz.destKind !== "bigquery"; nextBtn.disabled = !ready(); };
    table.addEventListener("input", () => { wiz.table = table.value.trim(); nextBtn.disabled = !ready(); });
    loadType.addEventListener("change", () => (wiz.loadType = loadType.value));
    destKind.addEventListener("change", () => { wiz.destKind = destKind.value; showDest(); });
    pgUrl.addEventListener("input", () => { wiz.pgUrl = pgUrl.value.trim(); nextBtn.disabled = !ready(); });
    showDest();
    const rows = wiz.columns.map((c, i) => {
      const sel = h("select", { id: `type-${i}`, "aria-label": `Type of ${c.name}` }, TYPES.map((t) => h("option", { value: t, selected: t === c.bigquery_type }, t)));
      sel.addEventListener("change", () => (c.bigquery_type = sel.value));
      const samples = wiz.detected.columns[i].sample_values.join(" · ");
      return h("tr", {}, h("td", { text: c.name }), h("td", {}, sel), h("td", { class: "samples", text: samples }));
    });
    body.append(h("div", { class: "card" }, field("Destination", destKind, "destination_kind"), pgField, bqPanel,
      field("Table name", table, "table_name", "optionally schema.table"), field("Load type", loadType, "load_type"),
      h("h2", { text: "Columns" }), h("table", { id: "edit-schema" }, h("thead", {}, h("tr", {}, ["Column", "Type", "Sample values"].map((t) => h("th", { text: t })))), h("tbody", {}, rows))),
      h("div", { class: "actions" }, back(), nextBtn));
    return;
  }

  // step 3: schedule and review
  const summary = h("dl", { class: "summary", id: "summary" });
  const renderSummary = () => summary.replaceChildren(...[
    ["Job", wiz.name], ["Connection", wiz.connection], ["Files", (wiz.prefix ? wiz.prefix + "/" : "") + wiz.pattern],
    ["Format", wiz.format + (wiz.format === "csv" ? ` (delimiter ${JSON.stringify(wiz.delimiter)}, ${wiz.encoding}, ${wiz.header ? "header" : "no header"})` : "")],
    ["Strategy", wiz.latestOnly ? "latest file only" : "all unprocessed files"], ["Destination", destinationText(wizardDestination())],
    ["Table", `${wiz.table} (${wiz.loadType})`], ["Columns", wiz.columns.map((c) => `${c.name} ${c.bigquery_type}`).join(", ")],
    ["Schedule", `${scheduleText(wiz)} — ${describeSchedule(scheduleText(wiz))}`], ["Timezone", wiz.timezone || "UTC"],
  ].flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
  const fields = scheduleFields(wiz, renderSummary);
  renderSummary();
  const msg = h("div", { class: "error", id: "create-msg" });
  async function create() {
    try {
      const { job } = await api("POST", "/jobs", {
        name: wiz.name, connection_id: wiz.connection, file_path_prefix: wiz.prefix, file_pattern: wiz.pattern,
        file_format: wiz.format, file_format_options: formatOptions(), load_latest_only: wiz.latestOnly,
        schema_fingerprint: wiz.detected.schema_fingerprint, load_type: wiz.loadType, table_name: wiz.table,
        schema: wiz.columns, schedule: scheduleText(wiz), timezone: wiz.timezone || "UTC", destination: wizardDestination(),
      });
      wiz = newWizard();
      location.hash = `#/jobs/${encodeURIComponent(job.name)}`;
    } catch (e) { showError(e, msg); }
  }
  body.append(h("div", { class: "card" }, fields, h("div", { class: "error", id: "err-schedule_detail" })),
    h("div", { class: "card" }, h("h2", { text: "Review" }), summary, h("div", { class: "error", id: "err-name" }), h("div", { class: "error", id: "err-table_name" }), h("div", { class: "error", id: "err-destination" }), h("div", { class: "error", id: "err-schema_fingerprint" }), msg),
    h("div", { class: "actions" }, back(), h("button", { class: "primary", id: "create", onclick: create }, "Create job")));
}

// ---- a job ----
const OUTCOMES = {
  loaded: "loaded", recovered: "loaded (recovered after an interrupted run)", skipped_too_large: "skipped: too large",
  skipped_claimed: "skipped: claimed by another run", failed_schema_mismatch: "failed: schema mismatch", failed_parse: "failed: parse error",
  failed_destination: "failed: destination error", failed_storage: "failed: storage error",
};
const outcomeBadge = (o) => badge(o.startsWith("failed") ? "failed" : o.startsWith("skipped") ? "skipped" : "succeeded", OUTCOMES[o] || o.replace(/_/g, " "));
const ALERT_KINDS = { run_failed: "run failed", schema_change: "schema change", size_anomaly: "size anomaly", freshness: "no new files" };
const runHref = (job, id) => `#/jobs/${encodeURIComponent(job)}/runs/${id}`;

// A nice upper bound for an axis: 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((f) => f * p).find((x) => x >= v * (1 - 1e-9));
}

// Rows loaded (bars, left axis) and duration (line, right axis) of the last 30 finished
// runs, oldest left.
function runChart(runs) {
  const done = runs.filter((r) => !ACTIVE.includes(r.status) && r.finished_at).slice(0, 30).reverse();
  if (!done.length) return null;
  const W = 940, H = 190, L = 58, R = 58, T = 14, B = 30, iw = W - L - R, ih = H - T - B;
  const secs = done.map(seconds);
  const rowsMax = Math.max(2, niceMax(Math.max(...done.map((r) => r.rows_loaded))));
  const secMax = niceMax(Math.max(...secs));
  const slot = iw / done.length, bw = Math.max(4, Math.min(34, slot * 0.56));
  const x = (i) => L + slot * (i + 0.5);
  const yRows = (v) => T + ih - (v / rowsMax) * ih;
  const ySecs = (v) => T + ih - (v / secMax) * ih;
  const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  const grid = [0, 0.5, 1].map((f) => {
    const y = T + ih - f * ih;
    return svg("g", { class: "tick" }, svg("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }),
      svg("text", { x: L - 8, y: y + 4, "text-anchor": "end" }, compact.format(rowsMax * f)),
      svg("text", { x: W - R + 8, y: y + 4 }, fmtSeconds(secMax * f)));
  });
  const every = Math.ceil(done.length / 15);
  const bars = done.map((r, i) => {
    const top = Math.min(yRows(r.rows_loaded), T + ih - 1);
    return svg("g", {}, svg("rect", { class: "bar " + r.status, x: (x(i) - bw / 2).toFixed(1), y: top.toFixed(1), width: bw.toFixed(1), height: (T + ih - top).toFixed(1), "data-run": r.id },
      svg("title", {}, `Run ${r.id} (${r.status.replace(/_/g, " ")}): ${r.rows_loaded.toLocaleString()} rows in ${fmtSeconds(secs[i])}`)),
      i % every === 0 ? svg("text", { class: "xlabel", x: x(i), y: H - 10, "text-anchor": "middle" }, "#" + r.id) : null);
  });
  const line = svg("polyline", { class: "dur", points: done.map((r, i) => `${x(i).toFixed(1)},${ySecs(secs[i]).toFixed(1)}`).join(" ") });
  const points = done.map((r, i) => svg("circle", { class: "pt", cx: x(i).toFixed(1), cy: ySecs(secs[i]).toFixed(1), r: 4, "data-run": r.id },
    svg("title", {}, `Run ${r.id}: ${fmtSeconds(secs[i])}`)));
  const maxRows = done.reduce((a, r) => (r.rows_loaded > a.rows_loaded ? r : a));
  const longest = done.reduce((a, r, i) => (secs[i] > seconds(a) ? r : a));
  const desc = `${done.length} run(s), from run ${done[0].id} to run ${done[done.length - 1].id}. Most rows: ${maxRows.rows_loaded.toLocaleString()} (run ${maxRows.id}); ` +
    `longest: ${fmtSeconds(seconds(longest))} (run ${longest.id}); latest: ${done[done.length - 1].rows_loaded.toLocaleString()} rows in ${fmtSeconds(secs[secs.length - 1])}.`;
  const chart = svg("svg", { id: "run-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title chart-desc" },
    svg("title", { id: "chart-title" }, `Rows loaded and duration of the last ${done.length} finished run(s), oldest first`),
    svg("desc", { id: "chart-desc" }, desc),
    grid, svg("line", { class: "axis", x1: L, x2: W - R, y1: T + ih, y2: T + ih }), bars, line, points);
  return h("figure", { class: "chart" },
    h("figcaption", {}, h("span", { class: "legend" }, h("span", { class: "swatch rows" }), "Rows loaded (left axis)"),
      h("span", { class: "legend" }, h("span", { class: "swatch secs" }), "Duration (right axis)"),
      h("span", { class: "hint" }, `last ${done.length} finished run(s), oldest left`)),
    chart);
}

function runsTable(job, runs) {
  return h("table", { id: "runs" }, h("thead", {}, h("tr", {}, ["Run", "Status", "Started", "Seconds", "Files loaded", "Skipped", "Failed", "Rows", "Bytes", ""].map((t) => h("th", { text: t })))),
    h("tbody", {}, runs.map((r) => {
      const href = runHref(job, r.id);
      return h("tr", { class: "clickable", "data-run": r.id, onclick: (e) => { if (!e.target.closest("a")) location.hash = href; } },
        h("td", { text: r.id }), h("td", {}, badge(r.status)),
        h("td", {}, r.status === "queued" ? h("span", { class: "hint" }, "queued " + when(r.queued_at || r.started_at)) : when(r.started_at),
          r.scheduled_for ? h("div", { class: "hint" }, "scheduled") : null),
        h("td", { text: r.finished_at ? seconds(r).toFixed(1) : r.status === "running" ? "…" : "" }), h("td", { text: r.files_loaded }), h("td", { text: r.files_skipped }),
        h("td", { text: r.files_failed }), h("td", { class: "rows", text: r.rows_loaded.toLocaleString() }), h("td", { text: size(r.bytes_loaded) }),
        h("td", {}, h("a", { href, class: "details", "aria-label": `Details of run ${r.id}` }, "Details")));
    })));
}

async function jobPage(name, v) {
  const path = `/jobs/${encodeURIComponent(name)}`;
  let { job } = await api("GET", path);
  const live = () => v === view;

  // The job at a glance; redrawn when its settings change.
  const state = h("span", { id: "job-state" });
  const info = h("dl", { class: "summary", id: "job-info" });
  const pauseBtn = h("button", { id: "pause-btn", "aria-describedby": "job-state" });
  const pauseMsg = h("div", { class: "error", id: "pause-msg", "aria-live": "polite" });
  function renderJob() {
    state.replaceChildren(job.paused ? badge("paused") : badge("active", job.schedule === "manual" ? "manual" : "active"));
    pauseBtn.textContent = job.paused ? "Resume schedule" : "Pause schedule";
    info.replaceChildren(...[["Connection", job.connection], ["Files", (job.file_path_prefix ? job.file_path_prefix + "/" : "") + job.file_pattern],
      ["Strategy", job.load_latest_only ? "latest file only" : "all unprocessed files"], ["Destination", destinationText(job.destination)],
      ["Table", `${job.table_name} (${job.load_type})`], ["Schedule", scheduleCell(job), "schedule-text"], ["Next run", nextRunText(job), "next-run"],
      ["Columns", job.schema.map((c) => `${c.name} ${c.bigquery_type}`).join(", ")]]
      .flatMap(([k, val, id]) => [h("dt", { text: k }), h("dd", { id }, val)]));
  }
  pauseBtn.addEventListener("click", async () => {
    pauseBtn.disabled = true;
    pauseMsg.textContent = "";
    try { ({ job } = await api("PATCH", path, { paused: !job.paused })); renderJob(); }
    catch (e) { pauseMsg.textContent = e.message; }
    pauseBtn.disabled = false;
  });

  // Schedule and timezone.
  const sched = { ...parseSchedule(job.schedule), timezone: job.timezone || "UTC" };
  const schedOk = h("div", { class: "success", id: "schedule-msg", "aria-live": "polite" });
  const schedCard = h("div", { class: "card", id: "schedule-card" });
  async function saveSchedule() {
    schedOk.textContent = "";
    try {
      ({ job } = await api("PATCH", path, { schedule: scheduleText(sched), timezone: sched.timezone || "UTC" }));
      showError({}, null, schedCard);
      renderJob();
      schedOk.textContent = "✓ Saved. Next run: " + nextRunText(job);
    } catch (e) { showError(e, schedCard.querySelector("#err-schedule_detail"), schedCard); }
  }
  add(schedCard, h("h2", { text: "Schedule" }), scheduleFields(sched, () => (schedOk.textContent = "")), h("div", { class: "error", id: "err-schedule_detail" }),
    h("div", { class: "form-actions" }, h("button", { class: "primary", id: "schedule-save", onclick: saveSchedule }, "Save schedule"), schedOk));

  // Alerts: the first webhook and the first email target (others set through the API are
  // kept) and freshness.
  const targets = (job.alerts && job.alerts.targets) || [];
  const hook = targets.find((t) => t.kind === "webhook") || { kind: "webhook", url: "", format: "json" };
  const mail = targets.find((t) => t.kind === "email") || { kind: "email", to: "" };
  const others = targets.filter((t) => t !== hook && t !== mail);
  const url = h("input", { type: "url", id: "alert-url", value: hook.url || "", placeholder: "https://hooks.example.com/…", autocomplete: "off", spellcheck: "false" });
  const format = h("select", { id: "alert-format" }, [["json", "JSON (the whole alert)"], ["slack", "Slack-style text ({\"text\": …})"]].map(([val, t]) => h("option", { value: val, selected: val === (hook.format || "json") }, t)));
  const email = h("input", { type: "email", id: "alert-email", value: mail.to || "", placeholder: "ops@example.com", autocomplete: "off" });
  const hours = h("input", { type: "number", id: "freshness-hours", min: 1, step: 1, value: job.alerts && job.alerts.freshness_hours != null ? job.alerts.freshness_hours : "", placeholder: "off" });
  const alertsOk = h("div", { class: "success", id: "alerts-msg", "aria-live": "polite" });
  const alertsCard = h("div", { class: "card", id: "alerts-card" });
  const incidents = h("div", { id: "incidents" });
  async function saveAlerts() {
    alertsOk.textContent = "";
    const chosen = [];
    if (url.value.trim()) chosen.push({ kind: "webhook", url: url.value.trim(), format: format.value });
    if (email.value.trim()) chosen.push({ kind: "email", to: email.value.trim() });
    const alerts = { targets: [...chosen, ...others] };
    if (hours.validity.badInput || (hours.value.trim() !== "" && !Number.isInteger(Number(hours.value)))) {
      showError({ details: { fields: [{ field: "alerts.freshness_hours", message: "Enter a whole number of hours, or leave it empty." }] } }, null, alertsCard);
      return;
    }
    if (hours.value.trim() !== "") alerts.freshness_hours = Number(hours.value);
    try {
      ({ job } = await api("PATCH", path, { alerts }));
      showError({}, null, alertsCard);
      const n = (job.alerts.targets || []).length;
      alertsOk.textContent = n ? `✓ Saved. Alerts go to ${n} target(s).` : "✓ Saved. No target: alerts are only listed here.";
    } catch (e) {
      // The email field's error names its place in the list (alerts.targets[N].to).
      for (const f of (e.details && e.details.fields) || []) {
        if (/^alerts\.targets\[\d+\]\.to$/.test(f.field)) {
          f.message = f.message.replace(f.field + ": ", "");
          f.field = "alerts.email";
        }
      }
      showError(e, alertsCard.querySelector("#err-alerts"), alertsCard);
    }
  }
  add(alertsCard, h("h2", { text: "Alerts" }),
    h("p", { class: "hint" }, "A failed run, a changed schema, an unusually large or small file, or no new file for too long opens an alert; the targets hear when it opens and when it is resolved. Email goes through the SMTP server sluice serve is given (SLUICE_SMTP_URL)."),
    h("div", { class: "row" }, field("Webhook URL", url, "alerts.targets[0].url", "empty: none"), field("Format", format, "alerts.targets[0].format")),
    field("Email", email, "alerts.email", "empty: none"),
    moreTargets(others),
    field("Alert when no new file for", hours, "alerts.freshness_hours", "hours; empty: never"),
    h("div", { class: "error", id: "err-alerts", "aria-live": "polite" }),
    h("div", { class: "form-actions" }, h("button", { class: "primary", id: "alerts-save", onclick: saveAlerts }, "Save alerts"), alertsOk),
    h("h3", { text: "Alert history" }), incidents);
  function moreTargets(t) {
    return t.length ? h("p", { class: "hint" }, `${t.length} more target(s) set through the API are kept.`) : null;
  }

  // Run now, history, chart and processed files.
  const status = h("div", { id: "run-status", "aria-live": "polite" });
  const chart = h("div", { id: "chart" });
  const history = h("div", { id: "history" });
  const files = h("div", { id: "processed" });
  let following = 0, timer = null;
  async function refresh() {
    clearTimeout(timer);
    const [{ runs }, { processed_files }, inc] = await Promise.all([api("GET", path + "/runs"), api("GET", path + "/processed-files"), api("GET", path + "/incidents")]);
    if (!live()) return;
    chart.replaceChildren(runChart(runs) || "");
    history.replaceChildren(runs.length ? runsTable(job.name, runs) : h("p", { class: "hint" }, "No runs yet."));
    files.replaceChildren(processed_files.length ? h("table", {}, h("thead", {}, h("tr", {}, ["File", "Rows", "Size", "Loaded"].map((t) => h("th", { text: t })))),
      h("tbody", {}, processed_files.map((p) => h("tr", {}, h("td", { text: p.file_path }), h("td", {}, p.status === "loading" ? h("span", { class: "hint" }, "loading…") : p.rows_loaded.toLocaleString()), h("td", { text: size(p.file_size_bytes) }), h("td", { text: when(p.processed_at) }))))) : h("p", { class: "hint" }, "No file loaded yet."));
    incidents.replaceChildren(inc.incidents.length ? h("table", { id: "incidents-table" }, h("thead", {}, h("tr", {}, ["State", "Kind", "Summary", "Opened", "Resolved", "Notification"].map((t) => h("th", { text: t })))),
      h("tbody", {}, inc.incidents.map((i) => h("tr", {}, h("td", {}, i.closed_at ? badge("resolved") : badge("open")), h("td", { class: "nowrap", text: ALERT_KINDS[i.kind] || i.kind.replace(/_/g, " ") }),
        h("td", { text: i.summary }), h("td", { text: when(i.opened_at) }), h("td", { text: i.closed_at ? when(i.closed_at) : "" }),
        h("td", {}, i.notify_error ? h("span", { class: "error" }, "not sent: " + i.notify_error) : i.notified_at ? "sent " + when(i.notified_at) : h("span", { class: "hint" }, ((job.alerts || {}).targets || []).length ? "pending" : "no target")))))) : h("p", { class: "hint" }, "No alerts so far."));
    // Someone else's run (the scheduler's, another tab's) is in progress: look again soon.
    if (!following && runs.some((r) => ACTIVE.includes(r.status))) timer = setTimeout(() => live() && refresh().catch(() => {}), 1500);
  }
  async function runNow() {
    following++;
    status.replaceChildren(spinner("Starting…"));
    try {
      const { run_id } = await api("POST", path + "/run", {});
      let last = null;
      for (;;) {
        const { run } = await api("GET", `/runs/${run_id}`);
        if (!live()) return;
        const link = h("a", { href: runHref(job.name, run.id), class: "details" }, "details");
        if (run.status !== last) { last = run.status; await refresh(); }
        if (run.status === "queued") {
          status.replaceChildren(badge("queued"), ` run ${run.id} waits for the job's current run to finish; it starts right after (`, link, ")");
        } else if (run.status === "running") {
          status.replaceChildren(spinner(`Running run ${run.id}…`), " ", link);
        } else {
          const failed = (run.files || []).filter((f) => f.outcome.startsWith("failed"));
          put(status, badge(run.status),
            ` run ${run.id}: ${run.files_loaded} file(s), ${run.rows_loaded.toLocaleString()} rows loaded` +
            (run.files_skipped ? `, ${run.files_skipped} skipped` : "") + (run.files_failed ? `, ${run.files_failed} failed` : "") + " (", link, ")",
            run.error ? h("div", { class: "error", text: run.error }) : null,
            ...failed.map((f) => h("div", { class: "error", text: f.message || `${f.file_path}: ${OUTCOMES[f.outcome]}` })));
          break;
        }
        await sleep(300);
      }
    } catch (e) { status.replaceChildren(h("div", { class: "error", text: e.message })); }
    following--;
    if (live()) await refresh();
  }

  renderJob();
  app.replaceChildren(h("h1", { class: "title" }, job.name, " ", state),
    h("div", { class: "card" }, info, pauseMsg,
      h("div", { class: "actions" }, h("div", { class: "form-actions" }, h("button", { class: "primary", id: "run-now", onclick: runNow }, "Run now"), status), pauseBtn)),
    h("div", { class: "card" }, h("h2", { text: "Run history" }), chart, history),
    schedCard, alertsCard,
    h("div", { class: "card" }, h("h2", { text: "Processed files" }), files));
  await refresh();
}

// ---- a run ----
async function runPage(jobName, id, v) {
  const { run } = await api("GET", `/runs/${id}`);
  if (v !== view) return;
  const job = run.job || jobName;
  const dur = seconds(run);
  const queuedFor = run.queued_at && new Date(run.started_at) - new Date(run.queued_at) > 500 ? (new Date(run.started_at) - new Date(run.queued_at)) / 1000 : 0;
  const logTime = (t) => new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3, hourCycle: "h23" }).format(new Date(t));
  const rows = [
    ["Job", h("a", { href: `#/jobs/${encodeURIComponent(job)}` }, job)],
    run.queued_at && (run.status === "queued" || queuedFor) ? ["Queued", `${when(run.queued_at)}` + (queuedFor ? `, waited ${fmtSeconds(queuedFor)}` : "")] : null,
    ["Started", run.status === "queued" ? h("span", { class: "hint" }, "not yet: waiting for the job's current run") :
      [when(run.started_at), run.scheduled_for ? ` by the scheduler (due ${when(run.scheduled_for)})` : " by hand"]],
    ["Finished", run.finished_at ? `${when(run.finished_at)} (${fmtSeconds(dur)})` : h("span", { class: "hint" }, "not yet")],
    ["Files", `${run.files_seen} seen, ${run.files_loaded} loaded, ${run.files_skipped} skipped, ${run.files_failed} failed`],
    ["Rows", run.rows_loaded.toLocaleString()], ["Bytes", size(run.bytes_loaded)],
    run.error ? ["Error", h("span", { class: "error" }, run.error)] : null,
  ].filter(Boolean);
  const files = run.files || [];
  const log = run.log || [];
  app.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: `#/jobs/${encodeURIComponent(job)}` }, "← " + job)),
    h("h1", { class: "title" }, `Run ${run.id}`, " ", badge(run.status), ACTIVE.includes(run.status) ? spinner("") : null),
    h("div", { class: "card" }, h("dl", { class: "summary", id: "run-info" }, rows.flatMap(([k, val]) => [h("dt", { text: k }), h("dd", {}, val)]))),
    h("div", { class: "card" }, h("h2", { text: "Files" }), files.length
      ? h("table", { id: "run-files" }, h("thead", {}, h("tr", {}, ["File", "Outcome", "Rows", "Size", "Message"].map((t) => h("th", { text: t })))),
        h("tbody", {}, files.map((f) => h("tr", { class: "outcome-" + f.outcome }, h("td", { class: "file" }, f.file_path, h("div", { class: "hint", text: f.file_version })), h("td", { class: "outcome" }, outcomeBadge(f.outcome)),
          h("td", { class: "num", text: f.rows_loaded.toLocaleString() }), h("td", { class: "num", text: size(f.file_size_bytes) }), h("td", {}, f.message ? h("pre", { class: "msg", text: f.message }) : "")))))
      : h("p", { class: "hint" }, run.files_skipped ? "No new file to load: the matching files were loaded before." : "No file was handled.")),
    h("div", { class: "card" }, h("h2", { text: "Log" }), log.length
      ? h("table", { id: "run-log", class: "log" }, h("thead", {}, h("tr", {}, ["Time", "Level", "Message"].map((t) => h("th", { text: t })))),
        h("tbody", {}, log.map((l) => h("tr", { class: "level-" + l.level }, h("td", { class: "time" }, h("time", { datetime: l.at, title: l.at }, logTime(l.at))),
          h("td", {}, badge("level-" + l.level, l.level)), h("td", {}, h("pre", { class: "msg", text: l.message }))))))
      : h("p", { class: "hint" }, "No log lines.")));
  // Follow a run that has not finished.
  if (ACTIVE.includes(run.status)) {
    await sleep(1000);
    if (v === view) await runPage(jobName, id, v);
  }
}

let view = 0;
async function route() {
  const v = ++view;
  const hash = location.hash || "#/jobs";
  let m;
  try {
    if (hash === "#/new") await wizardPage();
    else if (hash === "#/connections") await connectionsPage();
    else if ((m = /^#\/jobs\/([^/]+)\/runs\/(\d+)$/.exec(hash))) await runPage(decodeURIComponent(m[1]), Number(m[2]), v);
    else if (hash.startsWith("#/jobs/")) await jobPage(decodeURIComponent(hash.slice(7)), v);
    else await jobsPage();
  } catch (e) {
    if (v === view) app.replaceChildren(h("div", { class: "card error", text: e.message || String(e) }));
  }
  if (v === view && document.activeElement === document.body) app.focus();
}
window.addEventListener("hashchange", route);
route();

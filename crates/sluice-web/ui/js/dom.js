// DOM helpers, formatting and the field/error conventions every page shares.

export function h(tag, attrs, ...children) {
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
export function add(el, ...children) {
  for (const c of children.flat(Infinity)) if (c != null && c !== false) el.append(c.nodeType ? c : String(c));
  return el;
}
export const put = (el, ...children) => { el.replaceChildren(); return add(el, ...children); };

// A column's type as the schema shows it: `INT64`, or `ARRAY<INT64>` for a REPEATED column.
export const typeOf = (c) => (c.bigquery_mode === "REPEATED" ? `ARRAY<${c.bigquery_type}>` : c.bigquery_type);

// SVG elements, for the run chart.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
  for (const c of children.flat()) if (c != null) el.append(c.nodeType ? c : String(c));
  return el;
}

export function size(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}
export const when = (t) => (t ? new Date(t).toLocaleString() : "");
export const spinner = (text) => h("span", { role: "status" }, h("span", { class: "spinner" }), text);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const ACTIVE = ["queued", "running"];
export const badge = (cls, text) => h("span", { class: "badge " + cls }, text || cls.replace(/_/g, " "));

// A time as read in `timeZone`, e.g. "Thu, Nov 28, 2026, 02:00".
export function whenIn(t, timeZone) {
  const opts = { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try { return new Intl.DateTimeFormat(undefined, { ...opts, timeZone }).format(new Date(t)); }
  catch { return new Intl.DateTimeFormat(undefined, { ...opts, timeZone: "UTC" }).format(new Date(t)) + " UTC"; }
}

// "in 6 hours", "2 days ago".
export function relative(t) {
  const s = (new Date(t) - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const a = Math.abs(s);
  if (a < 90) return rtf.format(Math.round(s), "second");
  if (a < 90 * 60) return rtf.format(Math.round(s / 60), "minute");
  if (a < 36 * 3600) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86400), "day");
}

export function seconds(r) {
  return r.finished_at ? (new Date(r.finished_at) - new Date(r.started_at)) / 1000 : null;
}
export const fmtSeconds = (v) => (v >= 100 ? Math.round(v) : +v.toPrecision(v >= 1 ? 3 : 2)) + " s";

// Shows an API error beside the field it names, or in `fallback`; clears the old errors
// within `scope`. A hint that names a setting (`details.fix`) is shown beside that setting.
export function showError(err, fallback, scope = document) {
  scope.querySelectorAll(".error").forEach((e) => (e.textContent = ""));
  const details = err.details || {};
  const fields = [...(details.fields || [])];
  if (details.fix && details.hint) fields.push({ field: details.fix.field, message: details.hint });
  let shown = false;
  for (const f of fields) {
    const slot = document.getElementById("err-" + f.field);
    // Beside its field, a message need not repeat the field's path ("alerts.freshness_hours: …").
    const text = f.message.startsWith(f.field + ": ") ? f.message.slice(f.field.length + 2) : f.message;
    if (slot) { slot.textContent = text; shown = true; }
  }
  if (!shown && fallback) fallback.textContent = err.message || String(err);
}

export function field(label, input, name, hint) {
  return h("div", {}, h("label", { for: input.id }, label, hint ? h("span", { class: "hint" }, " — " + hint) : null),
    input, h("div", { class: "error", id: "err-" + name, "aria-live": "polite" }));
}

// A job's row rules as people write them, one per line (what the API reads back).
export function ruleText(r) {
  const c = r.check;
  switch (c.kind) {
    case "sql": return `${r.name}: ${c.sql}`;
    case "accepted": return `${r.name}: accepted(${c.column}: ${c.values.join(", ")})`;
    case "regex": return `${r.name}: regex(${c.column}: ${c.pattern})`;
    case "range": return `${r.name}: range(${c.column}: ${c.min ?? ""}, ${c.max ?? ""})`;
    default: return `${r.name}: ${c.kind}(${c.column})`;
  }
}

// The three row-rule lists as textareas (one item per line), and the request fields they make.
export function rowRuleFields(prefix, job) {
  const area = (id, lines, placeholder) => h("textarea", { id: prefix + id, rows: 2, placeholder }, lines.join("\n"));
  const transforms = area("transforms", (job.transforms || []).map((t) => `${t.column} = ${t.sql}`), "note = trim(note)");
  const filters = area("filters", job.filters || [], "status <> 'test'");
  const rules = area("rules", (job.rules || []).map(ruleText), "positive: amount > 0\nnot_null(id)");
  const maxRejected = h("input", { id: prefix + "max-rejected", value: job.max_rejected || "0", placeholder: "0, 100 or 2.5%" });
  const dedupKey = h("input", { id: prefix + "dedup-key", value: ((job.dedup || {}).key || []).join(", "), placeholder: "id, or order_id, line" });
  const dedupKeep = h("select", { id: prefix + "dedup-keep" }, [["first", "the first (later rows with the key are left out)"], ["last", "the last (a newer row replaces the loaded one)"]]
    .map(([v, t]) => h("option", { value: v, selected: v === ((job.dedup || {}).keep || "first") }, t)));
  const lines = (t) => t.value.split("\n").map((l) => l.trim()).filter(Boolean);
  return {
    fields: [
      field("Transforms", transforms, "transforms", "one per line: column = SQL expression, applied first"),
      field("Filters", filters, "filters", "one per line: SQL boolean; other rows are dropped and counted"),
      field("Rules", rules, "rules", "one per line: NAME: SQL boolean, or not_null(col), unique(col), accepted(col: a, b), regex(col: pattern), range(col: min, max); a row that breaks one is quarantined, or fails its file"),
      h("div", { class: "row" }, field("Dedup key", dedupKey, "dedup_key", "columns whose values identify a row: rows with a key already loaded (or seen in the file) load once; empty: no deduplication"),
        field("Keep", dedupKeep, "dedup_keep")),
      field("Bad rows", maxRejected, "max_rejected", "rows of a file that do not fit their column or break a rule, sent to TABLE_rejected while the rest load: a count (100) or a share (2.5%); past it the file fails; 0: the first one fails its file"),
    ],
    body: () => ({ transforms: lines(transforms), filters: lines(filters), rules: lines(rules), max_rejected: maxRejected.value.trim() || "0",
      ...(dedupKey.value.trim() ? { dedup_key: dedupKey.value.trim(), dedup_keep: dedupKeep.value } : { dedup_key: "" }) }),
  };
}

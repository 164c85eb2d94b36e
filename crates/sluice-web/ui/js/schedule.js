// Schedules: read, written and described with the forms the server serves
// (vocabulary.schedules), and the form fields the wizard and the job page share.
import { h, put, field, whenIn, relative, badge } from "./dom.js";
import { vocab } from "./api.js";

const dayName = (d) => (vocab.schedules.days.find(([k]) => k === d) || [d, d])[1];
const pad2 = (m) => String(m).padStart(2, "0");

// The form a schedule text is written in, and its fields.
function match(s) {
  const text = s || "manual";
  for (const form of vocab.schedules.forms) {
    const m = new RegExp(form.pattern).exec(text);
    if (m) return { form, groups: m.groups || {} };
  }
  return { form: vocab.schedules.forms[0], groups: {} };
}

export function describeSchedule(s) {
  const { form, groups } = match(s);
  return form.describe.replace(/\{(\w+)\}/g, (_, k) =>
    k === "minute" ? pad2(groups.minute || 0) : k === "day" ? dayName(groups.day) : groups[k] || "");
}

// The form's fields for a schedule string (the inverse of scheduleText).
export function parseSchedule(s) {
  const st = { schedule: "manual", time: "02:00", day: "mon", minute: "0", cron: "" };
  const { form, groups } = match(s);
  st.schedule = form.kind;
  for (const [k, v] of Object.entries(groups)) if (v != null) st[k] = k === "minute" ? String(+v) : v;
  return st;
}

export function scheduleText(st) {
  const form = vocab.schedules.forms.find((f) => f.kind === st.schedule) || vocab.schedules.forms[0];
  return form.template.replace(/\{(\w+)\}/g, (_, k) => (k === "minute" ? pad2(st.minute) : st[k]));
}

// When a job runs next, read in its own timezone; or why it does not.
export function nextRunText(job) {
  if (job.paused) return "none while paused";
  if (!job.next_run_at) return job.schedule === "manual" ? "only when run by hand" : "—";
  return `${whenIn(job.next_run_at, job.timezone)} ${job.timezone} (${relative(job.next_run_at)})`;
}

// Schedule text for a job: its description, the timezone when not UTC, and "paused".
export function scheduleCell(job) {
  return [h("span", { text: describeSchedule(job.schedule) }),
    job.schedule !== "manual" && job.timezone && job.timezone !== "UTC" ? h("span", { class: "hint" }, " " + job.timezone) : null,
    job.paused ? [" ", badge("paused")] : null];
}

const BROWSER_TZ = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { return ""; } })();
const ZONES = (() => { try { return Intl.supportedValuesOf("timeZone"); } catch { return []; } })();

// The schedule's kind, its details and the timezone, editing `st` in place; `changed` runs
// after every edit.
export function scheduleFields(st, changed) {
  const kind = h("select", { id: "schedule" }, vocab.schedules.forms.map((f) => h("option", { value: f.kind, selected: f.kind === st.schedule }, f.label)));
  const detail = h("div", { id: "schedule-detail" });
  const tzNames = [];
  const inTz = () => { const n = h("span", { class: "hint" }, " — in " + (st.timezone || "UTC")); tzNames.push(n); return n; };
  const inputs = {
    minute: () => field("At minute", h("input", { type: "number", id: "schedule-minute", min: 0, max: 59, value: st.minute, oninput: (e) => { st.minute = e.target.value; changed(); } }), "minute"),
    day: () => field("Day", h("select", { id: "schedule-day", onchange: (e) => { st.day = e.target.value; changed(); } }, vocab.schedules.days.map(([d, t]) => h("option", { value: d, selected: d === st.day }, t))), "day"),
    time: () => {
      const input = h("input", { type: "time", id: "schedule-time", value: st.time, oninput: (e) => { st.time = e.target.value; changed(); } });
      return h("div", {}, h("label", { for: "schedule-time" }, "At", inTz()), input, h("div", { class: "error", id: "err-time", "aria-live": "polite" }));
    },
    cron: () => field("Cron expression", h("input", { type: "text", id: "schedule-cron", value: st.cron, placeholder: "0 2 * * *", spellcheck: "false", oninput: (e) => { st.cron = e.target.value; changed(); } }), "cron", "minute hour day month weekday"),
  };
  const renderDetail = () => {
    tzNames.length = 0;
    const form = vocab.schedules.forms.find((f) => f.kind === st.schedule);
    detail.replaceChildren(...(form ? form.fields.map((f) => inputs[f]()) : []));
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

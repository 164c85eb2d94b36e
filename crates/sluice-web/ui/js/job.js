// A job's page: its settings, "Run now", the run chart and history, schedule, alerts and
// processed files.
import { h, add, put, svg, size, when, spinner, sleep, badge, whenIn, relative, seconds, fmtSeconds, showError, field, ACTIVE, typeOf } from "./dom.js";
import { api, vocab, outcomeLabel, alertLabel } from "./api.js";
import { parseSchedule, scheduleText, nextRunText, scheduleCell, scheduleFields } from "./schedule.js";
import { nextRunCard, filesCard, historyCard } from "./nextrun.js";
import { schemaCard } from "./schema.js";
import { rejectedCard } from "./rejected.js";

export const outcomeBadge = (o) => {
  const info = vocab.outcomes.find((x) => x.outcome === o) || {};
  return badge(info.failure ? "failed" : o.startsWith("skipped") ? "skipped" : "succeeded", outcomeLabel(o));
};
export const runHref = (job, id) => `#/jobs/${encodeURIComponent(job)}/runs/${id}`;

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

export async function jobPage(app, name, v, view) {
  const path = `/jobs/${encodeURIComponent(name)}`;
  let { job } = await api("GET", path);
  const live = () => v === view();

  // The job at a glance; redrawn when its settings change.
  const state = h("span", { id: "job-state" });
  const info = h("dl", { class: "summary", id: "job-info" });
  const pauseBtn = h("button", { id: "pause-btn", "aria-describedby": "job-state" });
  const pauseMsg = h("div", { class: "error", id: "pause-msg", "aria-live": "polite" });
  function renderJob() {
    state.replaceChildren(job.paused ? badge("paused") : badge("active", job.schedule === "manual" ? "manual" : "active"));
    pauseBtn.textContent = job.paused ? "Resume schedule" : "Pause schedule";
    info.replaceChildren(...[["Connection", job.connection], ["Files", (job.file_path_prefix ? job.file_path_prefix + "/" : "") + job.file_pattern],
      ["Strategy", job.load_latest_only ? "latest file only" : "all unprocessed files"], ["Destination", job.destination_description || job.destination.kind],
      ["Table", `${job.table_name} (${job.load_type})`], ["Changed files", job.changed_files, "changed-files"], ["Schema changes", job.schema_policy, "schema-policy"],
      ["Dedup", job.dedup ? `by ${job.dedup.key.join(", ")}, keep the ${job.dedup.keep}` : "none", "dedup"],
      ["Bad rows", job.max_rejected === "0" ? "the first fails its file" : `up to ${job.max_rejected} per file to ${job.table_name}_rejected`, "max-rejected"],
      ["Row rules", [(job.transforms || []).length && `${job.transforms.length} transform(s)`, (job.filters || []).length && `${job.filters.length} filter(s)`, (job.rules || []).length && `${job.rules.length} rule(s)`].filter(Boolean).join(", ") || "none", "row-rules"],
      ["Waits for", [job.settle_time_seconds ? `${job.settle_time_seconds} s to settle` : "", job.ready_marker ? `${job.ready_marker} in the folder` : ""].filter(Boolean).join("; ") || "nothing", "gates"],
      ["Lineage", job.lineage ? "_sluice_file, _sluice_line, _sluice_loaded_at" : "none"],
      ["Schedule", scheduleCell(job), "schedule-text"], ["Next run", nextRunText(job), "next-run"],
      ["Columns", job.schema.map((c) => `${c.name} ${typeOf(c)}${c.read_as ? ` (read as ${c.read_as})` : ""}`).join(", ")]]
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
  const parkAfter = h("input", { type: "number", id: "park-after", min: 0, step: 1, value: job.park_after_failures != null ? job.park_after_failures : 3 });
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
    const park = Number(parkAfter.value);
    if (parkAfter.value.trim() === "" || !Number.isInteger(park) || park < 0) {
      showError({ details: { fields: [{ field: "park_after_failures", message: "Enter a whole number of runs (0: never park)." }] } }, null, alertsCard);
      return;
    }
    try {
      ({ job } = await api("PATCH", path, { alerts, park_after_failures: park }));
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
    h("p", { class: "hint" }, "A failed run, a changed schema, an unusually large or small file, a file parked after failing run after run, or no new file for too long opens an alert; the targets hear when it opens and when it is resolved. Email goes through the SMTP server sluice serve is given (SLUICE_SMTP_URL)."),
    h("div", { class: "row" }, field("Webhook URL", url, "alerts.targets[0].url", "empty: none"), field("Format", format, "alerts.targets[0].format")),
    field("Email", email, "alerts.email", "empty: none"),
    moreTargets(others),
    field("Alert when no new file for", hours, "alerts.freshness_hours", "hours; empty: never"),
    field("Park a file after", parkAfter, "park_after_failures", "runs in a row failing the same way; a parked file is no longer tried and raises an alert; 0: never"),
    h("div", { class: "error", id: "err-alerts", "aria-live": "polite" }),
    h("div", { class: "form-actions" }, h("button", { class: "primary", id: "alerts-save", onclick: saveAlerts }, "Save alerts"), alertsOk),
    h("h3", { text: "Alert history" }), incidents);
  // A ledger row's rows, or why it has none: loading, failed N times, parked.
  function ledgerState(p) {
    if (p.status === "loading") return h("span", { class: "hint" }, "loading…");
    if (p.status === "failed") return h("span", { class: "error", title: p.last_error || "" }, `failed ${p.failures}× in a row`);
    if (p.status === "parked") return h("span", { class: "error", title: p.last_error || "" }, `parked after ${p.failures} failed runs`);
    if (p.status === "skipped") return h("span", { class: "hint" }, "skipped by a person");
    if (p.status === "forgotten") return h("span", { class: "hint" }, "forgotten: loads again");
    if (p.same_as) return h("span", { class: "hint", title: "no row loaded again" }, p.same_as === p.file_path ? "same content as before" : `same content as ${p.same_as}`);
    return p.rows_loaded.toLocaleString();
  }
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
      h("tbody", {}, processed_files.map((p) => h("tr", { class: "ledger-" + p.status }, h("td", { text: p.file_path }), h("td", {}, ledgerState(p)), h("td", { text: size(p.file_size_bytes) }), h("td", { text: when(p.processed_at) }))))) : h("p", { class: "hint" }, "No file loaded yet."));
    incidents.replaceChildren(inc.incidents.length ? h("table", { id: "incidents-table" }, h("thead", {}, h("tr", {}, ["State", "Kind", "Summary", "Opened", "Resolved", "Notification"].map((t) => h("th", { text: t })))),
      h("tbody", {}, inc.incidents.map((i) => h("tr", {}, h("td", {}, i.closed_at ? badge("resolved") : badge("open")), h("td", { class: "nowrap", text: alertLabel(i.kind) }),
        h("td", { text: i.summary }), h("td", { text: when(i.opened_at) }), h("td", { text: i.closed_at ? when(i.closed_at) : "" }),
        h("td", {}, i.notify_error ? h("span", { class: "error" }, "not sent: " + i.notify_error) : i.notified_at ? "sent " + when(i.notified_at) : h("span", { class: "hint" }, ((job.alerts || {}).targets || []).length ? "pending" : "no target")))))) : h("p", { class: "hint" }, "No alerts so far."));
    // Someone else's run (the scheduler's, another tab's) is in progress: look again soon.
    if (!following && runs.some((r) => ACTIVE.includes(r.status))) timer = setTimeout(() => live() && refresh().catch(() => {}), 1500);
    await next.load();
  }
  const next = nextRunCard(path, () => refresh().catch(() => {}));
  async function runNow() {
    following++;
    status.replaceChildren(spinner("Starting…"));
    try {
      const at = document.getElementById("run-parallel").value.trim();
      const { run_id } = await api("POST", path + "/run", at ? { parallel: Number(at) } : {});
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
            (run.rows_rejected ? `, ${run.rows_rejected.toLocaleString()} rejected` : "") +
            (run.files_skipped ? `, ${run.files_skipped} skipped` : "") + (run.files_failed ? `, ${run.files_failed} failed` : "") + " (", link, ")",
            run.error ? h("div", { class: "error", text: run.error }) : null,
            ...failed.map((f) => h("div", { class: "error", text: f.message || `${f.file_path}: ${outcomeLabel(f.outcome)}` })));
          break;
        }
        await sleep(300);
      }
    } catch (e) { status.replaceChildren(h("div", { class: "error", text: e.message })); }
    following--;
    if (live()) { await refresh(); await schema.load().catch(() => {}); await rejected.load().catch(() => {}); }
  }

  renderJob();
  let changes = await historyCard(path);
  const schema = schemaCard(path, () => job, async () => { ({ job } = await api("GET", path)); renderJob(); refresh().catch(() => {}); });
  await schema.load();
  const rejected = rejectedCard(path, () => job, () => refresh().catch(() => {}));
  await rejected.load();
  app.replaceChildren(h("h1", { class: "title" }, job.name, " ", state),
    h("div", { class: "card" }, info, pauseMsg,
      h("div", { class: "actions" }, h("div", { class: "form-actions" }, h("button", { class: "primary", id: "run-now", onclick: runNow }, "Run now"),
        h("label", { class: "inline", title: "Files loaded at once, each in a load of its own; a job that deduplicates by key, or whose schema policy alters the table, loads one at a time" }, "files at once ",
          h("input", { id: "run-parallel", type: "number", min: "1", max: "64", placeholder: "cores", size: "4" })), status), pauseBtn)),
    next.card,
    h("div", { class: "card" }, h("h2", { text: "Run history" }), chart, history),
    filesCard(path, () => job, (saved) => { job = saved; renderJob(); refresh().catch(() => {}); schema.load().catch(() => {}); rejected.load().catch(() => {}); historyCard(path).then((c) => changes.replaceWith((changes = c))).catch(() => {}); }),
    schema.card, rejected.card, schedCard, alertsCard,
    h("div", { class: "card" }, h("h2", { text: "Processed files" }), files),
    changes);
  await refresh();
}


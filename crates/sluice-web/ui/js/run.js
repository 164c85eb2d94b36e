// One run: its statistics, each file's outcome and the run's log; followed while it goes.
import { h, size, when, spinner, sleep, badge, seconds, fmtSeconds, ACTIVE } from "./dom.js";
import { api } from "./api.js";
import { outcomeBadge } from "./job.js";

export async function runPage(app, jobName, id, v, view) {
  const { run } = await api("GET", `/runs/${id}`);
  if (v !== view()) return;
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
    ["Rows", run.rows_loaded.toLocaleString() + (run.rows_rejected ? `, ${run.rows_rejected.toLocaleString()} rejected (see the job's Rejected rows)` : "")], ["Bytes", size(run.bytes_loaded)],
    run.error ? ["Error", h("span", { class: "error" }, run.error)] : null,
  ].filter(Boolean);
  const files = run.files || [];
  const log = run.log || [];
  // A run shared among workers names the one that loaded each file.
  const shared = files.some((f) => f.worker);
  app.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: `#/jobs/${encodeURIComponent(job)}` }, "← " + job)),
    h("h1", { class: "title" }, `Run ${run.id}`, " ", badge(run.status), ACTIVE.includes(run.status) ? spinner("") : null),
    h("div", { class: "card" }, h("dl", { class: "summary", id: "run-info" }, rows.flatMap(([k, val]) => [h("dt", { text: k }), h("dd", {}, val)]))),
    h("div", { class: "card" }, h("h2", { text: "Files" }), files.length
      ? h("table", { id: "run-files" }, h("thead", {}, h("tr", {}, ["File", "Outcome", "Rows", "Size", ...(shared ? ["Worker"] : []), "Message"].map((t) => h("th", { text: t })))),
        h("tbody", {}, files.map((f) => h("tr", { class: "outcome-" + f.outcome }, h("td", { class: "file" }, f.file_path, h("div", { class: "hint", text: f.file_version })), h("td", { class: "outcome" }, outcomeBadge(f.outcome)),
          h("td", { class: "num", text: f.rows_loaded.toLocaleString() }), h("td", { class: "num", text: size(f.file_size_bytes) }),
          shared ? h("td", { class: "worker", title: f.worker || "", text: (f.worker || "").split("@")[0] }) : null,
          h("td", {}, f.message ? h("pre", { class: "msg", text: f.message }) : "")))))
      : h("p", { class: "hint" }, run.files_skipped ? "No new file to load: the matching files were loaded before." : "No file was handled.")),
    h("div", { class: "card" }, h("h2", { text: "Log" }), log.length
      ? h("table", { id: "run-log", class: "log" }, h("thead", {}, h("tr", {}, ["Time", "Level", "Message"].map((t) => h("th", { text: t })))),
        h("tbody", {}, log.map((l) => h("tr", { class: "level-" + l.level }, h("td", { class: "time" }, h("time", { datetime: l.at, title: l.at }, logTime(l.at))),
          h("td", {}, badge("level-" + l.level, l.level)), h("td", {}, h("pre", { class: "msg", text: l.message }))))))
      : h("p", { class: "hint" }, "No log lines.")));
  // Follow a run that has not finished.
  if (ACTIVE.includes(run.status)) {
    await sleep(1000);
    if (v === view()) await runPage(app, jobName, id, v, view);
  }
}


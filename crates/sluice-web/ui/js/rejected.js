// The job page's "Rejected rows" card: what the job's files sent to the quarantine table
// (<table>_rejected), counted per file and rule, the rows themselves, and a replay that loads
// them again through the job's current schema and rules.
import { h, put, spinner, badge, sleep, showError } from "./dom.js";
import { api } from "./api.js";

// `onReplayed` is called after a replay ends (the table changed).
export function rejectedCard(path, getJob, onReplayed) {
  const card = h("div", { class: "card", id: "rejected-card" });
  const msg = h("div", { id: "rejected-msg", "aria-live": "polite" });
  const err = h("div", { class: "error", id: "err-rejected", "aria-live": "polite" });
  async function replay() {
    err.textContent = "";
    put(msg, spinner("Replaying…"));
    try {
      const { run_id } = await api("POST", path + "/rejected/replay", {});
      let run;
      for (;;) {
        ({ run } = await api("GET", `/runs/${run_id}`));
        if (!["queued", "running"].includes(run.status)) break;
        await sleep(300);
      }
      const failed = (run.files || []).filter((f) => f.outcome.startsWith("failed"));
      put(msg, badge(run.status), ` replay run ${run.id}: ${run.rows_loaded.toLocaleString()} row(s) loaded, ${run.rows_rejected.toLocaleString()} quarantined again`,
        run.error ? h("div", { class: "error", text: run.error }) : null,
        ...failed.map((f) => h("div", { class: "error", text: f.message || f.file_path })));
      await load();
      onReplayed();
    } catch (e) { put(msg); showError(e, err); }
  }
  async function load() {
    const { rejected } = await api("GET", path + "/rejected");
    const job = getJob();
    const limit = job.max_rejected === "0"
      ? "This job quarantines nothing: the first bad value or broken rule fails its file. Set “Bad rows” under Files and policies to quarantine them instead."
      : `Up to ${job.max_rejected} bad row(s) per file go to ${rejected.table} with their line, column and raw values while the rest load; more fail the file.`;
    if (!rejected.total) {
      put(card, h("h2", { text: "Rejected rows" }), h("p", { class: "hint", text: limit }), h("p", { class: "hint", id: "rejected-none", text: "No row is quarantined." }), msg, err);
      return;
    }
    const shown = rejected.rows.slice(0, 50);
    put(card, h("h2", { text: `Rejected rows (${rejected.total.toLocaleString()})` }),
      h("p", { class: "hint", text: limit }),
      h("table", { id: "rejected-counts" }, h("thead", {}, h("tr", {}, ["File", "Rule or error", "Rows"].map((t) => h("th", { text: t })))),
        h("tbody", {}, rejected.counts.map((c) => h("tr", {}, h("td", { text: c.file_path }), h("td", { text: c.reason === "value" ? "value does not fit its column" : c.reason }), h("td", { text: c.rows.toLocaleString() }))))),
      h("table", { id: "rejected-rows" }, h("thead", {}, h("tr", {}, ["File", "Where", "Column", "Error", "Raw values"].map((t) => h("th", { text: t })))),
        h("tbody", {}, shown.map((r) => h("tr", {}, h("td", { text: r.file_path }), h("td", { class: "nowrap", text: r.line_number ? `line ${r.line_number}` : `record ${r.record_number}` }),
          h("td", { text: r.column_name || "" }), h("td", { text: r.error_message }), h("td", { class: "mono", text: r.raw_text }))))),
      rejected.rows.length > shown.length ? h("p", { class: "hint", text: `The first ${shown.length} of ${rejected.rows.length}; sluice rejected ${job.name} --json lists them all.` }) : null,
      h("div", { class: "form-actions" }, h("button", { id: "replay", onclick: replay }, "Replay"),
        h("span", { class: "hint", text: "loads them again through the current schema and rules; those that still fail stay here" })),
      msg, err);
  }
  return { card, load };
}

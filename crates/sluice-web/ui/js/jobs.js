// The jobs list: each job's files, table, schedule, next run and last run.
import { h, when, spinner, badge, whenIn, relative } from "./dom.js";
import { api } from "./api.js";
import { scheduleCell } from "./schedule.js";

export async function jobsPage(app) {
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


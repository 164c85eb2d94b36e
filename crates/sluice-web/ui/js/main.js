// sluice web UI: a jobs list, connections, the "+ ETL job" wizard and a job page, as ES
// modules over the JSON API; nothing is fetched from outside this server. The words the
// forms use (types, formats, providers, destinations, labels, schedule forms, name rules)
// come from GET /api/vocabulary.
import { h } from "./dom.js";
import { loadVocabulary } from "./api.js";
import { jobsPage } from "./jobs.js";
import { connectionsPage } from "./connections.js";
import { wizardPage } from "./wizard.js";
import { jobPage } from "./job.js";
import { runPage } from "./run.js";

const app = document.getElementById("app");
let view = 0;
const current = () => view;

async function route() {
  const v = ++view;
  const hash = location.hash || "#/jobs";
  let m;
  try {
    if (hash === "#/new") await wizardPage(app);
    else if (hash === "#/connections") await connectionsPage(app);
    else if ((m = /^#\/jobs\/([^/]+)\/runs\/(\d+)$/.exec(hash))) await runPage(app, decodeURIComponent(m[1]), Number(m[2]), v, current);
    else if (hash.startsWith("#/jobs/")) await jobPage(app, decodeURIComponent(hash.slice(7)), v, current);
    else await jobsPage(app);
  } catch (e) {
    if (v === view) app.replaceChildren(h("div", { class: "card error", text: e.message || String(e) }));
  }
  if (v === view && document.activeElement === document.body) app.focus();
}

window.addEventListener("hashchange", route);
loadVocabulary()
  .then(route)
  .catch((e) => app.replaceChildren(h("div", { class: "card error", text: "Cannot load the vocabulary: " + (e.message || e) })));

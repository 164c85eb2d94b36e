// sluice web UI: a jobs list, connections, the "+ ETL job" wizard and a job page, as ES
// modules over the JSON API; nothing is fetched from outside this server. The words the
// forms use (types, formats, providers, destinations, labels, schedule forms, name rules)
// come from GET /api/vocabulary.
import { h, field, showError } from "./dom.js";
import { api, loadVocabulary } from "./api.js";
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
    if (v !== view) return;
    if (e.signIn) signInPage();
    else app.replaceChildren(h("div", { class: "card error", text: e.message || String(e) }));
  }
  if (v === view && document.activeElement === document.body) app.focus();
}

// The server needs its token: from the address `sluice serve` printed, or pasted here.
function signInPage() {
  const token = h("input", { type: "password", id: "token", autocomplete: "off", placeholder: "the token sluice serve printed" });
  const msg = h("div", { class: "error", id: "sign-in-msg", "aria-live": "polite" });
  async function signIn() {
    try {
      await api("POST", "/session", { token: token.value.trim() });
      start();
    } catch (e) { showError(e, msg); }
  }
  token.addEventListener("keydown", (e) => { if (e.key === "Enter") signIn(); });
  app.replaceChildren(h("h1", { text: "Sign in" }), h("div", { class: "card" },
    h("p", {}, "This server needs its API token. Open the address ", h("code", {}, "sluice serve"), " printed (it signs you in), or paste the token:"),
    field("Token", token, "token"), h("div", { class: "actions" }, h("span"), h("button", { class: "primary", id: "sign-in", onclick: signIn }, "Sign in")), msg));
  token.focus();
}

function start() {
  loadVocabulary()
    .then(route)
    .catch((e) => {
      if (e.signIn) signInPage();
      else app.replaceChildren(h("div", { class: "card error", text: "Cannot load the vocabulary: " + (e.message || e) }));
    });
}

window.addEventListener("hashchange", route);
start();

// Connections: the list with "Test", and the form that adds one (also inside the wizard).
import { h, field, spinner, showError } from "./dom.js";
import { api, vocab } from "./api.js";
import { fieldsForm } from "./forms.js";

export function connectionForm(onSaved) {
  const name = h("input", { type: "text", id: "conn-name", placeholder: "landing" });
  const provider = h("select", { id: "conn-provider" }, vocab.providers.map((p) => h("option", { value: p.name }, p.label)));
  const settings = h("div", { id: "conn-settings" });
  let form = null;
  const render = () => {
    const info = vocab.providers.find((p) => p.name === provider.value);
    form = fieldsForm(info.fields, {}, { prefix: "conn" });
    settings.replaceChildren(form.element);
  };
  provider.addEventListener("change", render);
  render();
  const msg = h("div", { class: "error", id: "conn-msg", "aria-live": "polite" });
  const ok = h("div", { class: "success", "aria-live": "polite" });
  async function save() {
    const body = { name: name.value.trim(), provider: provider.value, ...form.value() };
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

export async function connectionsPage(app) {
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
    connectionForm(() => connectionsPage(app)));
}

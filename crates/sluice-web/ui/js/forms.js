// Forms drawn from the fields the server describes (providers, format options,
// destinations): each field's `name` is its key in the JSON the API takes, `a.b` the key `b`
// inside `a`. Inputs get ids `<prefix>-<name>` and error slots `err-<errPrefix><name>`.
import { h, field } from "./dom.js";
import { matches } from "./api.js";

const idOf = (prefix, name) => `${prefix}-${name.replace(/[._]/g, "-")}`;

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}
function set(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] = o[k] && typeof o[k] === "object" ? o[k] : {};
  o[keys[keys.length - 1]] = value;
}

// Inputs for `fields`, filled from `values`; `changed()` runs after every edit.
// Returns { element, value(): the JSON object, valid(): required and patterns hold }.
export function fieldsForm(fields, values, { prefix, errPrefix = "", changed = () => {}, inline = false }) {
  const inputs = {};
  const rows = {};
  const read = (f) => {
    const input = inputs[f.name];
    switch (f.kind.type) {
      case "checkbox": return input.checked;
      case "tristate": return input.value === "" ? null : input.value === "true";
      case "number": return input.value.trim() === "" ? undefined : Number(input.value);
      // A choice's value is kept as it is: a tab delimiter is blank to trim().
      case "choice": return input.value === "" ? undefined : input.value;
      default: return input.value.trim() === "" ? undefined : input.value.trim();
    }
  };
  const shown = (f) => !f.when || String(read(fields.find((x) => x.name === f.when[0]))) === f.when[1];
  const refresh = () => { for (const f of fields) rows[f.name].hidden = !shown(f); };
  const element = h("div", { class: inline ? "fields inline" : "fields" }, fields.map((f) => {
    const id = idOf(prefix, f.name);
    const initial = get(values || {}, f.name);
    let input;
    switch (f.kind.type) {
      case "checkbox":
        input = h("input", { type: "checkbox", id, checked: !!initial });
        break;
      case "tristate":
        input = h("select", { id }, [["", "Detect"], ["true", "Yes"], ["false", "No"]].map(([v, t]) => h("option", { value: v, selected: String(initial ?? "") === v }, t)));
        break;
      case "choice":
        input = h("select", { id }, f.kind.choices.map(([v, t]) => h("option", { value: v, selected: (initial ?? f.kind.choices[0][0]) === v }, t)));
        break;
      case "textarea":
        input = h("textarea", { id, rows: 3, placeholder: f.placeholder || null });
        input.value = initial ?? "";
        break;
      default:
        input = h("input", { type: f.kind.type === "password" ? "password" : f.kind.type === "number" ? "number" : "text", id, autocomplete: "off", spellcheck: "false", placeholder: f.placeholder || null });
        input.value = initial ?? "";
    }
    inputs[f.name] = input;
    input.addEventListener(input.tagName === "SELECT" || input.type === "checkbox" ? "change" : "input", () => { refresh(); changed(); });
    const hint = [f.hint, f.secret ? "stored sealed, shown as ••••" : null].filter(Boolean).join("; ");
    rows[f.name] = f.kind.type === "checkbox"
      ? h("div", {}, h("label", { class: "radio" }, input, f.label), h("div", { class: "error", id: "err-" + errPrefix + f.name, "aria-live": "polite" }))
      : field(f.label, input, errPrefix + f.name, hint || null);
    return rows[f.name];
  }));
  refresh();
  const value = () => {
    const out = {};
    for (const f of fields) {
      if (!shown(f)) continue;
      const v = read(f);
      if (v !== undefined) set(out, f.name, v);
    }
    return out;
  };
  const valid = () => fields.every((f) => {
    if (!shown(f)) return true;
    const v = read(f);
    if (f.required && (v === undefined || v === "")) return false;
    return typeof v !== "string" || matches(f.pattern, v);
  });
  // One line for summaries: each shown field's label and value, secrets as ••••.
  const describe = () => fields.filter((f) => shown(f) && read(f) !== undefined && read(f) !== null && read(f) !== false)
    .map((f) => {
      const v = read(f);
      if (f.secret) return `${f.label}: ••••`;
      if (f.kind.type === "checkbox") return f.label;
      if (f.kind.type === "choice") return `${f.label}: ${(f.kind.choices.find(([c]) => c === v) || [v, v])[1]}`;
      return `${f.label}: ${v}`;
    }).join(", ");
  return { element, value, valid, describe };
}

// The JSON API, and the vocabulary the server describes its forms with.

// Requests that change something always say they are JSON: the server refuses others, so
// that a form or a no-cors request from another site cannot act. The session cookie (set
// when the UI is opened with its token) goes along by itself.
export async function api(method, path, body) {
  const changes = method !== "GET";
  const res = await fetch("/api" + path, {
    method,
    headers: changes ? { "content-type": "application/json" } : {},
    body: changes ? JSON.stringify(body || {}) : undefined,
  });
  const data = await res.json().catch(() => ({ status: "error", message: res.statusText }));
  if (res.status === 401 && path !== "/session") throw { ...data, signIn: true };
  if (data.status === "error") throw data;
  return data;
}

// Warehouse types, formats, providers, destinations, labels, schedule forms and name rules,
// as GET /api/vocabulary gives them; loaded once, before the first page.
export let vocab = null;
export async function loadVocabulary() {
  vocab = await api("GET", "/vocabulary");
  return vocab;
}

export const outcomeLabel = (o) => (vocab.outcomes.find((x) => x.outcome === o) || {}).label || o.replace(/_/g, " ");
export const alertLabel = (k) => (vocab.alert_kinds.find((x) => x.kind === k) || {}).label || k.replace(/_/g, " ");
export const formatInfo = (name) => vocab.formats.find((f) => f.name === name);
export const destinationInfo = (kind) => vocab.destinations.find((d) => d.name === kind);
export const matches = (pattern, value) => !pattern || new RegExp(pattern).test(value);

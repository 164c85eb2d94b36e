// The JSON API, and the vocabulary the server describes its forms with.

export async function api(method, path, body) {
  const res = await fetch("/api" + path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({ status: "error", message: res.statusText }));
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

// The one way the console talks to huoli: same origin, the operator key as a Bearer token, JSON both ways.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : details ?? null;
  }
}

export async function apiRequest(key, path, { method = "GET", query, body } = {}) {
  const url = new URL(path, location.origin);
  // The key must never leave this origin, whatever path a page passes in.
  if (url.origin !== location.origin) throw new ApiError(0, "bad_path", `not a huoli path: ${path}`, null);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body: payload, credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "network_error", String(err?.message || err), null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    throw new ApiError(res.status, data?.code || "http_error", data?.message || res.statusText, data?.details);
  }
  return data;
}

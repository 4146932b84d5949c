// The public staff endpoints (accepting an invitation, a password reset), called without any saved credential:
// a wrong password's 401 here must not sign this browser out of an app it is signed in to (ctx.api would).
import { ApiError } from "@console/blocks.js";

export async function publicPost(path, body) {
  let res;
  try {
    res = await fetch(new URL(path, location.origin), {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "network_error", String(err?.message || err), null);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data?.code || "http_error", data?.message || res.statusText, data?.details);
  return data;
}

// The console's own address with a hash route: what an owner sends (an invitation, a reset).
export function consoleLink(pageId, token) {
  return `${location.origin}${location.pathname}#/${pageId}?token=${encodeURIComponent(token)}`;
}

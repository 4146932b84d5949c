import { watch } from "vue";
import { format as cf } from "@console/blocks.js";

// How the promotions pages say amounts, counts, spans and the API's codes, in the operator's language.
export function promoFormat(ctx) {
  const { t } = ctx;
  // A code the page has no word for still shows (as "其他（code）"), never a bare key.
  const label = (prefix, code) => {
    const key = `${prefix}.${code}`;
    const text = t(key);
    return text === key ? t("state.unknown", { code }) : text;
  };
  const money = (fen) => (fen == null ? "—" : ctx.fmt.money(fen));
  const n = (v) => ctx.fmt.number(v ?? 0);
  const days = (v) => (v === 1 ? t("unit.day") : t("unit.days", { n: ctx.fmt.number(v) }));
  const people = (v) => (v === 1 ? t("unit.person") : t("unit.people", { n: ctx.fmt.number(v) }));
  // Whole days and hours read as such ("1 天", "2 h"); anything else as the console's durations.
  const span = (s) => {
    if (s && s % 86400 === 0) return days(s / 86400);
    if (s && s % 3600 === 0) return t("unit.hours", { n: s / 3600 });
    return ctx.fmt.duration(s);
  };
  const when = (iso) => ctx.fmt.datetime(iso, { seconds: false });
  // 15 (percent off) → "8.5"
  const zhe = (percentOff) => String(Number(((100 - percentOff) / 10).toFixed(1)));
  function couponValue(tpl) {
    if (tpl.kind === "fixed") return t("value.fixed", { amount: money(tpl.amount_fen) });
    if (tpl.kind === "threshold") return t("value.threshold", { amount: money(tpl.amount_fen), threshold: money(tpl.threshold_fen) });
    const cap = tpl.max_discount_fen ? t("value.cap", { cap: money(tpl.max_discount_fen) }) : "";
    return t("value.percent", { zhe: zhe(tpl.percent_off), pct: tpl.percent_off }) + cap;
  }
  function validity(tpl) {
    if (tpl.valid_days) return t("tpl.validDays", { n: tpl.valid_days });
    return t("tpl.validWindow", { from: when(tpl.valid_from), until: when(tpl.valid_until) });
  }
  // When an activity runs (contract C1's starts_at / ends_at): "always on" when it has no window.
  function window(row) {
    if (!row?.starts_at && !row?.ends_at) return t("pf.always");
    return t("pf.window", { from: row.starts_at ? when(row.starts_at) : t("pf.now"), until: row.ends_at ? when(row.ends_at) : t("pf.noEnd") });
  }
  return { label, money, n, days, people, span, when, zhe, couponValue, validity, window, state: activityState };
}

// A refusal of the whole configuration (pydantic's model validators give no field) names its fields in the
// message ("floor_fen must be below price_fen"): the first one the form has is where it shows.
export function fieldOf(message, fields) {
  for (const word of String(message ?? "").match(/[a-z][a-z0-9]*(?:_[a-z0-9]+)+/g) || []) {
    if (fields.includes(word)) return word;
  }
  return "";
}

// The API's details with a field for each refusal that names one; the others stay for the form's top.
export function placeErrors(err, fields) {
  if (Array.isArray(err?.details)) {
    err.details = err.details.map((d) => (d?.field ? d : { ...d, field: fieldOf(d?.message, fields) }));
  }
  return err;
}

// useForm shows messages translated once; after a language switch, the last refusal is shown again, prepared
// afresh from what the API said. `prepare(err)` → [err for form.show, its known fields].
export function keepRefusal(ctx, form, prepare) {
  let last = null; // {err, details}
  watch(() => ctx.lang, () => {
    if (last && (form.top.value || Object.keys(form.errors).length)) form.show(...prepare(copy(last)));
  });
  const copy = ({ err, details }) => Object.assign(Object.create(Object.getPrototypeOf(err)), err, { details });
  return {
    // In the submit function's catch: remembers err and returns it prepared, to throw.
    failed(err) {
      last = { err, details: err?.details };
      const [prepared] = prepare(copy(last));
      return prepared;
    },
    forget() {
      last = null;
    },
  };
}

// An activity's state (contract C1: scheduled | running | paused | ended). Rows from before the lifecycle API
// say it their own way (a flash session's upcoming, a campaign's active flag): read those the same.
export function activityState(row) {
  const s = row?.state;
  if (["scheduled", "running", "paused", "ended"].includes(s)) return s;
  if (s === "upcoming") return "scheduled";
  if (row && row.active === false) return "paused";
  return "running";
}

// The console's link to an activity's results page (the marketing domain's #/activity-results).
export const resultsHash = (kind, id) => `#/activity-results?kind=${encodeURIComponent(kind)}&id=${encodeURIComponent(id)}`;

// A fresh id an operator may keep or change (the API wants one; 营销中心 forms never make them type it):
// prefix + the local day and time + two random letters, e.g. "cpn-1207-1030-kq".
export function newId(prefix) {
  const d = new Date();
  const two = (n) => String(n).padStart(2, "0");
  const rand = Math.random().toString(36).replace(/[^a-z]/g, "").slice(0, 2).padEnd(2, "x");
  return `${prefix}-${two(d.getMonth() + 1)}${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}-${rand}`;
}

// Whether the console has a page (another helper's page may not be there yet: never link to nothing).
export const hasPage = (id) => (window.__huoli?.pages || []).some((p) => p.id === id);

// Default times for a new activity, as ISO instants with the app timezone's offset: the next full hour (plus
// `hours`), and a local day (today plus `days`, "YYYY-MM-DD").
export function nextHour(tz, hours = 1) {
  const top = `${cf.isoToWall(new Date().toISOString(), tz).slice(0, 13)}:00:00`;
  const at = new Date(new Date(cf.wallToIso(top, tz)).getTime() + hours * 3600e3);
  return cf.wallToIso(cf.isoToWall(at.toISOString(), tz), tz);
}
export const localDay = (tz, days = 0) => cf.isoToWall(new Date(Date.now() + days * 86400e3).toISOString(), tz).slice(0, 10);

// A catalog item (contract C2) or null when the catalog does not know it (or this server has no catalog). Asked
// through the list's search (an id typed from its start), so an unknown id is an empty answer, not a 404.
export async function catalogItem(ctx, id) {
  if (!id) return null;
  try {
    const page = await ctx.api("/admin/catalog/items", { query: { q: id, limit: 50 } });
    return (page.items || []).find((x) => x.id === id) || null;
  } catch {
    return null;
  }
}

// Catalog titles for item ids, one GET per id not seen yet (kept for the session); ids the catalog does not know
// stay ids. Resolves {id: title}.
const titles = new Map();
export async function itemTitles(ctx, ids) {
  const missing = [...new Set(ids)].filter((id) => id && !titles.has(id));
  await Promise.all(missing.map(async (id) => titles.set(id, (await catalogItem(ctx, id))?.title || null)));
  return Object.fromEntries(ids.map((id) => [id, titles.get(id) || null]));
}

// A field's error goes once the operator changes that field (`alias` maps a value's key to the field the API
// names, e.g. hours → duration_s); the rest stay until the next submit.
export function clearOnEdit(form, values, alias = {}) {
  watch(() => ({ ...values }), (now, before) => {
    for (const k of Object.keys(now)) {
      if (JSON.stringify(now[k]) !== JSON.stringify(before[k])) delete form.errors[alias[k] || k];
    }
    if (!Object.keys(form.errors).length && form.top.value) form.top.value = "";
  });
}

// A column pinned at the right of a wide table (the state / actions column of a list), not on a phone, where a
// pinned column would leave no room for the names. The bargain and referral pages use it.
export const pinRight = () => (window.matchMedia?.("(max-width: 760px)").matches ? undefined : "right");

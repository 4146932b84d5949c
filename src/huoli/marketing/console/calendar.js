// The calendar's arithmetic on local days ("YYYY-MM-DD" strings, the app's timezone) and the warnings'
// sentences in the operator's language.
import { format } from "@console/blocks.js";

// One colour per kind (promotions' mechanics, then loyalty's scheduled activities).
export const KIND_COLORS = {
  "coupon-templates": "#e6a23c",
  "gift-packs": "#d98b4a",
  "flash-sessions": "#f56c6c",
  "group-campaigns": "#409eff",
  "bargain-campaigns": "#9b59b6",
  "referral-programs": "#67c23a",
  "member-day": "#c0399f",
  "points-mall": "#16a085",
  task: "#5b7bd5",
  checkin: "#8d9aa6",
};

export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

// Monday of the week holding `day`.
export function mondayOf(day) {
  const [y, m, d] = day.split("-").map(Number);
  const wd = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  return addDays(day, -wd);
}

// The local day an instant falls on in `tz`.
export function dayOf(iso, tz) {
  return format.date(iso, tz);
}

// Month view: whole weeks from the Monday on or before the 1st to the Sunday on or after the last day.
export function calendarDays(view, anchor) {
  let first;
  let last;
  if (view === "week") {
    first = mondayOf(anchor);
    last = addDays(first, 6);
  } else {
    const [y, m] = anchor.split("-").map(Number);
    const start = `${anchor.slice(0, 7)}-01`;
    const end = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
    first = mondayOf(start);
    last = addDays(mondayOf(end), 6);
  }
  const out = [];
  for (let d = first; d <= last; d = addDays(d, 1)) out.push(d);
  return out;
}

// A warning as a sentence: its activities quoted, its days shortened ("12-08", "12-08 – 12-11").
export function warningText(w, ctx) {
  const { t } = ctx;
  const names = w.activities.map((a) => `「${a.name}」`);
  const days = w.days.length > 1 ? `${w.days[0].slice(5)} – ${w.days[w.days.length - 1].slice(5)}` : (w.days[0] || "").slice(5);
  const p = w.params || {};
  const vars = {
    a: names[0] || "", b: names[1] || "", days,
    items: (p.item_ids || []).map((i) => (p.item_titles?.[i] ? `${p.item_titles[i]}（${i}）` : i)).join("、"),
    threshold: p.threshold_fen != null ? ctx.fmt.money(p.threshold_fen) : "",
    festival: p.festival ? (p.festival[ctx.lang] || p.festival.zh) : "",
    day: (p.festival_day || "").slice(5),
  };
  const key = `warn.${w.code}`;
  const text = t(key, vars);
  return { code: w.code, text: text === key ? t("warn.other", { code: w.code, a: vars.a, days }) : text };
}

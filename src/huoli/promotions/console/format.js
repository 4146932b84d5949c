import { watch } from "vue";

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
  return { label, money, n, days, people, span, when, zhe, couponValue, validity };
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

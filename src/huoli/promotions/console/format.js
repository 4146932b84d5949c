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

// The verdict as a sentence in the operator's language, built from the result's structured fields
// (decision, more_users, variant, alarms, the SRM p-value, the primary metric's lift), not from its English.

export function statusTag(exp) {
  if (exp.shipped_variant) return "success";
  return { draft: "info", running: "primary", stopped: "warning" }[exp.status] || "info";
}

// "p < 0.001" below a thousandth, never "p = 0".
export function pText(p) {
  if (p == null) return "–";
  if (p < 0.001) return "p < 0.001";
  return `p = ${Number(p.toPrecision(2))}`;
}

// A signed relative change: +12.3% / −4.0%.
export function signedPct(x, lang, fmt, digits = 1) {
  if (x == null) return "–";
  const s = fmt.percent(Math.abs(x), digits);
  return `${x > 0 ? "+" : x < 0 ? "−" : ""}${s}`;
}

export function verdictSentence(res, exp, ctx) {
  const { t, fmt } = ctx;
  const v = res.verdict || {};
  const names = Object.fromEntries((exp.variants || []).map((x) => [x.key, x.name || x.key]));
  const base = names[exp.variants?.[0]?.key] ?? "";
  const primary = (res.metrics || []).find((m) => m.role === "primary");
  const metric = primary?.key ?? "";
  const users = Object.values(res.srm?.users || {});
  const minUsers = Number(exp.stats?.min_users_per_variant ?? 100);
  switch (v.decision) {
    case "not_started":
      return t("verdict.notStarted");
    case "investigate":
      return t("verdict.srm", { p: Number((res.srm?.p_value ?? 0).toPrecision(2)) });
    case "guardrail": {
      const sep = ctx.lang === "zh" ? "；" : ", ";
      const which = (v.alarms || []).map(([m, k]) => t("verdict.hurts", { variant: names[k] ?? k, metric: m })).join(sep);
      return t("verdict.guardrail", { which });
    }
    case "keep_running":
      if (users.length && Math.min(...users) < minUsers) {
        return t("verdict.firstRead", { n: fmt.number(v.more_users), min: fmt.number(minUsers) });
      }
      return t("verdict.keepRunning", { n: fmt.number(v.more_users), metric });
    case "ship": {
      const c = primary?.comparisons?.find((x) => x.variant === v.variant);
      const lift = c?.relative?.lift;
      return t("verdict.ship", { variant: names[v.variant] ?? v.variant, metric, base, lift: signedPct(lift, ctx.lang, fmt) });
    }
    case "keep_control":
      return t("verdict.keepControl", { base, metric });
    case "no_effect":
      return t("verdict.noEffect", { metric });
    default:
      return (v.texts && v.texts[ctx.lang]) || v.text || "";
  }
}

// How a job's schedule, duration and result read in the console (the API gives "cron 5 0 * * *", ms, counts).

const pad = (n) => String(n).padStart(2, "0");

// "every 5 min" / "cron 5 0 * * *" → 每 5 分钟 / 每天 00:05 (a crontab this cannot say simply stays as it is).
export function scheduleText(text, t) {
  if (!text) return t("jobs.onDemand");
  let m = /^every (\d+) (min|h|d|s)$/.exec(text);
  if (m) return t(`jobs.every.${m[2]}`, { n: m[1] });
  m = /^cron (\d+) (\d+) \* \* (\*|[0-7])$/.exec(text);
  if (m) {
    const at = `${pad(m[2])}:${pad(m[1])}`;
    return m[3] === "*" ? t("jobs.daily", { at }) : t("jobs.weekly", { at, day: t(`jobs.weekday.${Number(m[3]) % 7}`) });
  }
  m = /^cron (.+)$/.exec(text);
  return m ? m[1] : text;
}

// Milliseconds as 0.35 秒 / 12.4 秒 / 2 分钟 5 秒.
export function durationMs(ms, ctx) {
  if (ms === null || ms === undefined) return "—";
  const s = ms / 1000;
  if (s < 60) return ctx.t("jobs.seconds", { n: ctx.fmt.number(s, s < 10 ? 2 : 1) });
  return ctx.fmt.duration(s);
}

// A run's result as "label: value" pairs, nested counts flattened, the first few only.
export function resultPairs(result, ctx, most = 6) {
  if (!result || typeof result !== "object") return [];
  const pairs = [];
  const name = (k) => {
    const key = `jobs.result.${k}`;
    const s = ctx.t(key);
    return s === key ? k : s;
  };
  const value = (v) => {
    if (Array.isArray(v)) return ctx.fmt.number(v.length);
    if (typeof v === "number") return ctx.fmt.number(v);
    if (typeof v === "boolean") return ctx.t(v ? "jobs.yes" : "jobs.no");
    if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v)) return ctx.fmt.datetime(v);
    return v === null ? "—" : String(v);
  };
  const walk = (obj, prefix) => {
    for (const [k, v] of Object.entries(obj)) {
      if (v && typeof v === "object" && !Array.isArray(v)) walk(v, `${prefix}${name(k)} · `);
      else pairs.push(`${prefix}${name(k)}: ${value(v)}`);
    }
  };
  walk(result, "");
  return pairs.length > most ? [...pairs.slice(0, most), "…"] : pairs;
}

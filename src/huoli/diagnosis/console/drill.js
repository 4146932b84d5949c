// A finding's drill-down: the analytics requests the doctor names (POST /admin/analytics/<metric>) and
// how to read points out of their answers (docs/diagnosis.md).

// A value at a dotted path ("result.totals.0.opens"); "a[].b" sums b over the array a.
export function pick(obj, path) {
  const [head, rest] = path.split("[].");
  let v = obj;
  for (const k of head.split(".")) {
    if (v == null) return null;
    v = Array.isArray(v) ? v[Number(k)] : v[k];
  }
  if (rest !== undefined) return Array.isArray(v) ? v.reduce((n, x) => n + (Number(pick(x, rest)) || 0), 0) : null;
  return v;
}

// The rules the doctor names in `reduce` when a picked value is a list.
export function reduce(value, rule) {
  if (!rule || !Array.isArray(value)) return value;
  const [name, arg] = rule.split(">=");
  const n = Number(arg);
  if (name === "active_days") return value.filter((r) => r.active_days >= n).reduce((s, r) => s + r.users, 0);
  if (name === "slow_share") {
    const edges = [0, 1000, 2000, 3000, 5000];
    const total = value.reduce((s, r) => s + r.sessions, 0);
    const slow = value.filter((_, i) => edges[i] >= n).reduce((s, r) => s + r.sessions, 0);
    return total ? slow / total : null;
  }
  return null;
}

// [{x, y, c?}] from the answers, one per request (windows) or one per row of a series.
export function points(d, results) {
  if (d.kind === "series") {
    const rows = pick(results[0], d.path) || [];
    return rows.map((r) => ({ x: String(r[d.x]), y: pick(r, d.y) }));
  }
  return results.map((res, i) => {
    if (d.values) return { x: d.requests[i].label, y: d.values[i], c: pick(res, d.pick[0]) };
    if (d.pick.length === 2) {
      const a = pick(res, d.pick[0]);
      const b = pick(res, d.pick[1]);
      return { x: d.requests[i].label, y: a != null && b ? a / b : null };
    }
    return { x: d.requests[i].label, y: reduce(pick(res, d.pick[0]), d.reduce) };
  });
}

// How the doctor's values read (diagnosis/text.py's number()): rates 12.3%, durations, days, ratios.
export function unitValue(v, unit, lang, fmt) {
  if (v === null || v === undefined || typeof v !== "number" || !Number.isFinite(v)) return v == null ? "–" : String(v);
  const zh = lang !== "en";
  if (unit === "rate") return `${(v * 100).toFixed(1)}%`;
  if (unit === "ms") return Math.abs(v) >= 1000 ? `${fmt.number(v / 1000, 1)}${zh ? " 秒" : " s"}` : `${fmt.number(Math.round(v))}${zh ? " 毫秒" : " ms"}`;
  if (unit === "days" || unit === "pages") {
    const n = fmt.number(Math.round(v * 10) / 10);
    return `${n}${{ days: zh ? " 天" : " days", pages: zh ? " 页" : " pages" }[unit]}`;
  }
  if (unit === "ratio") return fmt.number(v, 2);
  return Number.isInteger(v) || Math.abs(v) >= 100 ? fmt.number(Math.round(v)) : fmt.number(v, 1);
}

// "p < 0.001" below a thousandth (never "p = 0"), else two significant digits.
export function pValue(p, name = "p") {
  if (p === null || p === undefined) return `${name} = –`;
  if (p < 0.001) return `${name} < 0.001`;
  return `${name} = ${Number(p.toPrecision(2))}`;
}

// A relative change: +12.3% / −28.0%.
export function change(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return `${v > 0 ? "+" : v < 0 ? "−" : ""}${Math.abs(v * 100).toFixed(1)}%`;
}

// The stagnation doctor: findings by severity with their evidence and playbooks, and a drill-down that
// charts the analytics metric behind a finding (POST /admin/analytics/<metric>).

const SEVERITIES = ["high", "medium", "low"];
const T = {
  title: { zh: "诊断", en: "Diagnosis" },
  run: { zh: "诊断", en: "Diagnose" },
  end: { zh: "截止日期（默认昨天）", en: "End date (default yesterday)" },
  windows: { zh: "当前 {cur}，基线 {base}；运行 {checks} 项检查，发现 {n} 个问题", en: "Current {cur}, baseline {base}; {checks} checks ran, {n} findings" },
  none: { zh: "没有发现问题：各项指标都在阈值内或与噪声无法区分。", en: "No findings: every check is within its thresholds or indistinguishable from noise." },
  high: { zh: "严重", en: "High" },
  medium: { zh: "中等", en: "Medium" },
  low: { zh: "轻微", en: "Low" },
  current: { zh: "当前", en: "Current" },
  baseline: { zh: "基线", en: "Baseline" },
  change: { zh: "变化", en: "Change" },
  users: { zh: "受影响用户", en: "Users affected" },
  evidence: { zh: "证据", en: "Evidence" },
  playbooks: { zh: "建议方案", en: "Playbooks" },
  drill: { zh: "查看指标", en: "Drill down" },
  planned: { zh: "（规划中）", en: " (planned)" },
  metric: { zh: "指标", en: "Metric" },
  period: { zh: "区间", en: "Period" },
  value: { zh: "数值", en: "Value" },
  loading: { zh: "加载中…", en: "Loading…" },
};

// A value at a dotted path ("result.totals.0.opens"); "a[].b" sums b over the array a.
function pick(obj, path) {
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
function reduce(value, rule) {
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

function fmtNum(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString();
  return Number(v.toPrecision(4)).toString();
}

export default {
  id: "diagnosis",
  title: T.title,
  group: "diagnosis",
  order: 15,
  range: false,
  async render(root, ctx) {
    const { h, chart, table } = ctx.ui;
    const t = (x, vars) => ctx.t(x, vars);
    const form = h("form", { id: "diag-form", class: "card" },
      h("label", {}, t(T.end), " ", h("input", { type: "date", name: "end", value: ctx.params.asof || "" })),
      " ", h("button", { type: "submit" }, t(T.run)));
    const summary = h("p", { id: "diag-summary", class: "muted" });
    const list = h("div", { id: "diag-findings" });
    const drill = h("div", { id: "diag-drill", class: "card", hidden: true });
    root.append(form, summary, list, drill);

    const catalog = {};
    const pb = await ctx.api("/admin/diagnosis/playbooks");
    for (const p of pb.playbooks) catalog[p.id] = p;

    async function showDrill(f) {
      drill.hidden = false;
      drill.dataset.state = "loading";
      drill.dataset.finding = f.id;
      drill.replaceChildren(h("h2", {}, `${t(f.title)} · ${t(T.metric)}: ${f.metric}`), h("p", { class: "muted" }, t(T.loading)));
      const d = f.drilldown;
      const results = await Promise.all(d.requests.map((r) =>
        ctx.api(`/admin/analytics/${d.metric}`, { method: "POST", body: r.body })));
      if (!ctx.isCurrent() || drill.dataset.finding !== f.id) return;
      let points;
      if (d.kind === "series") {
        const rows = pick(results[0], d.path) || [];
        points = rows.map((r) => ({ x: String(r[d.x]), y: pick(r, d.y) }));
      } else {
        points = results.map((res, i) => {
          let y;
          if (d.pick.length === 2) {
            const a = pick(res, d.pick[0]), b = pick(res, d.pick[1]);
            y = a != null && b ? a / b : null;
          } else {
            y = reduce(pick(res, d.pick[0]), d.reduce);
          }
          return { x: d.requests[i].label, y };
        });
      }
      const el = h("div", { class: "chart", id: "diag-drill-chart" });
      drill.replaceChildren(
        h("h2", {}, `${t(f.title)} · ${t(T.metric)}: ${d.metric} (${f.metric})`),
        el,
        table([
          { key: "x", title: T.period },
          { key: "y", title: T.value, align: "right", format: fmtNum },
        ], points),
      );
      chart(el, {
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: points.map((p) => p.x) },
        yAxis: { type: "value" },
        series: [{ type: d.kind === "series" ? "line" : "bar", name: f.metric, data: points.map((p) => p.y) }],
      });
      drill.dataset.state = "ready";
    }

    function card(f) {
      const e = f.evidence;
      const change = f.change === null ? "–" : `${f.change > 0 ? "+" : ""}${(f.change * 100).toFixed(1)}%`;
      const ev = [`${e.test}`, `p = ${fmtNum(e.p_value)}`, `p(BH) = ${fmtNum(e.p_adjusted)}`, `n = ${fmtNum(e.n)}`];
      if (e.control_limits) ev.push(`3σ: ${fmtNum(e.control_limits.lower)} – ${fmtNum(e.control_limits.upper)}`);
      const books = f.playbooks.map((id) => {
        const p = catalog[id];
        return h("li", { dataset: { playbook: id } }, p ? t(p.title) : id, p && !p.available ? t(T.planned) : "",
          p ? h("span", { class: "muted" }, ` — ${t(p.what)} [${p.capability}]`) : "");
      });
      const btn = h("button", { type: "button", class: "drill", onclick: () => showDrill(f).catch((err) => ctx.ui.toast(err.message, { kind: "error" })) }, t(T.drill));
      return h("div", { class: "card finding", dataset: { id: f.id, severity: f.severity, signal: f.signal } },
        h("h2", {}, `[${t(T[f.severity])}] ${t(f.title)}`),
        h("p", { class: "muted" }, `${f.id} · ${f.metric}`),
        h("p", {}, `${t(T.current)}: ${fmtNum(f.current)} · ${t(T.baseline)}: ${fmtNum(f.baseline)} · ${t(T.change)}: ${change} · ${t(T.users)}: ${fmtNum(f.users_affected)}`),
        h("p", { class: "evidence" }, `${t(T.evidence)}: ${ev.join(" · ")}`),
        h("div", {}, t(T.playbooks), h("ul", {}, ...books)),
        btn);
    }

    async function load() {
      root.dataset.loaded = "";
      const end = form.elements.end.value;
      const d = await ctx.api("/admin/diagnosis", { query: end ? { end } : {} });
      if (!ctx.isCurrent()) return;
      summary.textContent = t(T.windows, {
        cur: `${d.current[0]} – ${d.current[1]}`,
        base: `${d.baseline[0]} – ${d.baseline[1]}`,
        checks: d.checked.length,
        n: d.findings.length,
      });
      list.replaceChildren();
      if (!d.findings.length) list.append(h("p", { id: "diag-none" }, t(T.none)));
      for (const sev of SEVERITIES) {
        const fs = d.findings.filter((f) => f.severity === sev);
        if (!fs.length) continue;
        list.append(h("section", { class: "severity", dataset: { severity: sev } }, h("h2", {}, t(T[sev])), ...fs.map(card)));
      }
      root.dataset.loaded = d.end;
    }

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      ctx.setParams(form.elements.end.value ? { asof: form.elements.end.value } : {});
      load().catch((err) => ctx.ui.toast(err.message, { kind: "error" }));
    });
    await load();
  },
};

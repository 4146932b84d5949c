// The stagnation doctor: findings by severity with their evidence and playbooks, and a drill-down that
// charts the analytics metric behind a finding (POST /admin/analytics/<metric>).

const SEVERITIES = ["high", "medium", "low"];
const T = {
  title: { zh: "诊断", en: "Diagnosis" },
  run: { zh: "诊断", en: "Diagnose" },
  end: { zh: "截止日期（默认最后一天有事件的日期）", en: "End date (default the last day with events)" },
  windows: { zh: "当前 {cur}，基线 {base}", en: "Current {cur}, baseline {base}" },
  high: { zh: "严重", en: "High" },
  medium: { zh: "警告", en: "Warning" },
  low: { zh: "提示", en: "Notice" },
  nodata: { zh: "数据不足", en: "Not enough data" },
  history: { zh: "事件记录：{first} – {last}，共 {have} 天（需要至少 {need} 天）", en: "Events: {first} – {last}, {have} days (at least {need} needed)" },
  noEvents: { zh: "该应用还没有任何事件（需要至少 {need} 天的记录）", en: "This app has no events yet (at least {need} days needed)" },
  go: { zh: "前往", en: "Go to" },
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
  activeUsers: { zh: "活跃用户（当前窗口）", en: "Active users (current window)" },
  checks: { zh: "检查项", en: "Checks run" },
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

// A rate is a fraction shown as a percentage (12.3%); other units as numbers (text.py on the server).
function fmtUnit(v, unit) {
  if (v === null || v === undefined || typeof v !== "number") return fmtNum(v);
  return unit === "rate" ? `${(v * 100).toFixed(1)}%` : fmtNum(v);
}

// Never "p = 0": below a thousandth it reads "p < 0.001".
function fmtP(p, name = "p") {
  if (p === null || p === undefined) return `${name} = –`;
  if (p < 0.001) return `${name} < 0.001`;
  return `${name} = ${Number(p.toPrecision(2))}`;
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
    const kpis = h("div", { id: "diag-kpis", class: "kpis" });
    const list = h("div", { id: "diag-findings" });
    const drill = h("div", { id: "diag-drill", class: "card", hidden: true });
    root.append(form, summary, kpis, list, drill);

    const catalog = {};
    const pb = await ctx.api("/admin/diagnosis/playbooks");
    for (const p of pb.playbooks) catalog[p.id] = p;

    async function showDrill(f, cardEl) {
      // Shown right under the finding the operator clicked, and scrolled into view (it used to open below
      // every finding, out of sight).
      cardEl.append(drill);
      drill.hidden = false;
      drill.dataset.state = "loading";
      drill.dataset.finding = f.id;
      drill.replaceChildren(h("h2", {}, `${t(f.title)} · ${t(T.metric)}: ${f.metric}`), h("p", { class: "muted" }, t(T.loading)));
      drill.scrollIntoView({ block: "nearest" });
      const d = f.drilldown;
      const unit = f.unit;  // every drill of a rate finding charts fractions (a rate per window or day)
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
          if (d.values) {
            return { x: d.requests[i].label, y: d.values[i], c: pick(res, d.pick[0]) };
          } else if (d.pick.length === 2) {
            const a = pick(res, d.pick[0]), b = pick(res, d.pick[1]);
            y = a != null && b ? a / b : null;
          } else {
            y = reduce(pick(res, d.pick[0]), d.reduce);
          }
          return { x: d.requests[i].label, y };
        });
      }
      const el = h("div", { class: "chart", id: "diag-drill-chart" });
      const name = d.label ? t(d.label) : f.metric;
      const cols = [
        { key: "x", title: T.period },
        { key: "y", title: d.label || T.value, align: "right", format: (v) => fmtUnit(v, unit) },
      ];
      if (d.values && d.context) cols.push({ key: "c", title: d.context, align: "right", format: fmtNum });
      drill.replaceChildren(
        h("h2", {}, `${t(f.title)} · ${name}`),
        h("p", { class: "muted" }, `${t(T.metric)}: ${d.metric} (${f.metric})`),
        el,
        table(cols, points),
      );
      chart(el, {
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: points.map((p) => p.x) },
        yAxis: { type: "value", axisLabel: unit === "rate" ? { formatter: (v) => `${Math.round(v * 1000) / 10}%` } : {} },
        series: [{ type: d.kind === "series" ? "line" : "bar", name, data: points.map((p) => p.y) }],
      });
      drill.dataset.state = "ready";
      drill.scrollIntoView({ block: "nearest" });
    }

    function card(f) {
      const e = f.evidence;
      const change = f.change === null ? "–" : `${f.change > 0 ? "+" : "−"}${Math.abs(f.change * 100).toFixed(1)}%`;
      const ev = [f.text[ctx.lang === "en" ? "en" : "zh"].test, fmtP(e.p_value), fmtP(e.p_adjusted, "p(BH)"), `n = ${fmtNum(e.n)}`];
      if (e.control_limits) ev.push(`3σ: ${fmtNum(e.control_limits.lower)} – ${fmtNum(e.control_limits.upper)}`);
      const books = f.playbooks.map((id) => {
        const p = catalog[id];
        if (!p) return h("li", { dataset: { playbook: id } }, id);
        // A link to the console page that acts on it; where none exists yet, what to do instead.
        const act = p.links.length
          ? h("span", { class: "links" }, ` ${t(T.go)} `, ...p.links.flatMap((l, i) => [i ? " · " : "", h("a", { href: l.href, dataset: { page: l.page } }, t(l.label))]))
          : h("span", { class: "instruction muted" }, ` ${t(p.instruction)}`);
        return h("li", { dataset: { playbook: id } }, h("strong", {}, t(p.title)), !p.available ? t(T.planned) : "",
          h("span", { class: "muted" }, ` — ${t(p.what)}`), act);
      });
      const el = h("div", { class: "card finding", dataset: { id: f.id, severity: f.severity, signal: f.signal } });
      const btn = h("button", { type: "button", class: "drill", onclick: () => showDrill(f, el).catch((err) => ctx.ui.toast(err.message, { kind: "error" })) }, t(T.drill));
      el.append(
        h("h2", {}, `[${t(T[f.severity])}] ${t(f.title)}`),
        h("p", { class: "muted" }, `${f.id} · ${f.metric}`),
        h("p", { class: "values" }, `${t(T.current)}: ${fmtUnit(f.current, f.unit)} · ${t(T.baseline)}: ${fmtUnit(f.baseline, f.unit)} · ${t(T.change)}: ${change} · ${t(T.users)}: ${fmtNum(f.users_affected)}`),
        h("p", { class: "evidence" }, `${t(T.evidence)}: ${ev.join(" · ")}`),
        h("div", {}, t(T.playbooks), h("ul", {}, ...books)),
        btn);
      return el;
    }

    async function load() {
      root.dataset.loaded = "";
      const end = form.elements.end.value;
      const d = await ctx.api("/admin/diagnosis", { query: end ? { end } : {} });
      if (!ctx.isCurrent()) return;
      const lang = ctx.lang === "en" ? "en" : "zh";
      const text = d.text[lang];
      const lines = [t(T.windows, { cur: `${d.current[0]} – ${d.current[1]}`, base: `${d.baseline[0]} – ${d.baseline[1]}` })];
      if (text.end) lines.push(text.end);
      summary.replaceChildren(...lines.flatMap((l, i) => [i ? h("br") : "", l]));
      // The verdict at a glance: how much was looked at, and how many problems of each severity.
      const kpi = (id, label, value) => h("div", { class: "kpi", dataset: { kpi: id } },
        h("div", { class: "label" }, t(label)), h("div", { class: "value" }, ctx.fmt.number(value)));
      kpis.replaceChildren(
        kpi("active-users", T.activeUsers, d.data.active_users ?? 0),
        kpi("checks", T.checks, d.checked.length),
        ...SEVERITIES.map((sev) => kpi(sev, T[sev], d.findings.filter((f) => f.severity === sev).length)));
      kpis.hidden = !d.data.enough;
      list.replaceChildren();
      drill.hidden = true;
      root.append(drill);
      if (!d.data.enough) {
        // Not "no problems": with too little data the doctor cannot tell, and says how much it needs.
        const have = d.data.first_event_day
          ? t(T.history, { first: d.data.first_event_day, last: d.data.last_event_day, have: d.data.history_days, need: d.data.needed_days })
          : t(T.noEvents, { need: d.data.needed_days });
        list.append(h("div", { id: "diag-nodata", class: "card" }, h("h2", {}, t(T.nodata)), h("p", {}, text.verdict), h("p", { class: "muted" }, have)));
      } else {
        list.append(h("p", { id: d.findings.length ? "diag-verdict" : "diag-none" }, text.verdict));
      }
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

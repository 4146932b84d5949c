// Experiments: list, setup form (field errors from the API next to their inputs), results with intervals,
// SRM warning, exposures left out (anonymous, several variants), guardrail alarms and the verdict;
// start (optionally at a past time) / stop / ship.

const T = {
  title: { zh: "实验", en: "Experiments" },
  new: { zh: "新建实验", en: "New experiment" },
  key: { zh: "标识", en: "Key" },
  name: { zh: "名称", en: "Name" },
  hypothesis: { zh: "假设", en: "Hypothesis" },
  flag: { zh: "功能开关", en: "Flag" },
  status: { zh: "状态", en: "Status" },
  variants: { zh: "变体", en: "Variants" },
  started: { zh: "开始时间", en: "Started" },
  coverage: { zh: "流量比例", en: "Coverage" },
  value: { zh: "取值", en: "Value" },
  weight: { zh: "权重", en: "Weight" },
  metric: { zh: "主要指标", en: "Primary metric" },
  kind: { zh: "类型", en: "Kind" },
  event: { zh: "事件", en: "Event" },
  namespace: { zh: "命名空间", en: "Namespace" },
  create: { zh: "创建", en: "Create" },
  empty: { zh: "还没有实验", en: "No experiments yet" },
  results: { zh: "结果", en: "Results" },
  back: { zh: "← 全部实验", en: "← All experiments" },
  start: { zh: "开始", en: "Start" },
  stop: { zh: "停止", en: "Stop" },
  ship: { zh: "全量发布", en: "Ship" },
  verdict: { zh: "结论", en: "Verdict" },
  srm: { zh: "样本比例不匹配：结果不可信", en: "Sample ratio mismatch: results can't be trusted" },
  alarm: { zh: "护栏指标告警", en: "Guardrail alarm" },
  users: { zh: "用户", en: "Users" },
  control: { zh: "对照", en: "Control" },
  lift: { zh: "相对提升", en: "Lift" },
  interval: { zh: "区间", en: "Interval" },
  p: { zh: "p 值 / 胜率", en: "p / chance" },
  role: { zh: "角色", en: "Role" },
  created: { zh: "已创建", en: "Created" },
  overTime: { zh: "主要指标提升（累计，按天）", en: "Primary metric lift (cumulative, per day)" },
  holdouts: { zh: "对照保留组", en: "Holdouts" },
  newHoldout: { zh: "新建保留组", en: "New holdout" },
  scope: { zh: "范围", en: "Scope" },
  heldOut: { zh: "保留比例", en: "Held out" },
  noHoldouts: { zh: "还没有保留组", en: "No holdouts yet" },
  asOf: { zh: "截至", en: "As of" },
  startedAt: { zh: "实际开始时间（可选，导入历史数据时填写过去的时间）", en: "Real start (optional: a past time for imported history)" },
  anonymous: { zh: "{n} 次曝光没有用户 ID（匿名），未计入分析", en: "{n} exposures without a user id (anonymous) were skipped" },
  multiple: {
    zh: "{n} 位用户曾进入多个变体（占分析用户的 {share}），已从所有指标和样本比例检验中排除",
    en: "{n} users were exposed to more than one variant ({share} of the analysed users) and are excluded from every metric and the SRM check",
  },
  multipleTooMany: { zh: "比例过高：请检查功能开关是否按稳定的用户 ID 计算", en: "That is too many: check that the flag is evaluated with a stable user id" },
};

// The API gives the verdict in both languages (`texts`); `text` (English) is what an older server sends.
const verdictText = (v, lang) => (v.texts && v.texts[lang]) || v.text;
const pct = (x) => (x == null ? "–" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`);
const num = (x) => (x == null ? "–" : Number(x).toPrecision(4));

function listView(root, ctx, experiments, flags) {
  const { h, table } = ctx.ui;
  const t = ctx.t;
  root.append(
    table(
      [
        { key: "key", title: t(T.key), format: (v) => h("a", { href: `#/experiments?key=${encodeURIComponent(v)}`, class: "exp-link" }, v) },
        { key: "name", title: t(T.name) },
        { key: "flag_key", title: t(T.flag) },
        { key: "status", title: t(T.status), format: (v, r) => (r.shipped_variant ? `${v} → ${r.shipped_variant}` : v) },
        { key: "variants", title: t(T.variants), format: (v) => v.map((x) => `${x.key} ${Math.round(x.weight * 100)}%`).join(", ") },
        { key: "started_at", title: t(T.started), format: (v) => (v ? ctx.fmt.datetime(v) : "–") },
      ],
      experiments,
      { empty: t(T.empty) },
    ),
  );
  root.append(setupForm(ctx, flags));
}

// Holdouts: users kept out of every experiment (global) or of one campaign, to measure incremental lift.
function holdoutsView(root, ctx, holdouts) {
  const { h, table } = ctx.ui;
  const t = ctx.t;
  root.append(
    h("h3", {}, t(T.holdouts)),
    table(
      [
        { key: "key", title: t(T.key) },
        { key: "name", title: t(T.name) },
        { key: "scope", title: t(T.scope) },
        { key: "percent", title: t(T.heldOut), align: "right", format: (v) => `${(v * 100).toFixed(1)}%` },
        { key: "created_at", title: t(T.created), format: (v) => ctx.fmt.datetime(v) },
      ],
      holdouts,
      { empty: t(T.noHoldouts) },
    ),
  );
  const input = (name, attrs = {}) => h("input", { name, id: `holdout-${name}`, ...attrs });
  const form = h("form", { id: "holdout-form", class: "card" },
    h("h3", {}, t(T.newHoldout)),
    field(h, t(T.key), input("key", { placeholder: "q4-campaigns" })),
    field(h, t(T.name), input("name")),
    field(h, t(T.scope), h("select", { name: "scope", id: "holdout-scope" },
      ["campaign", "global"].map((k) => h("option", { value: k }, k)))),
    field(h, `${t(T.heldOut)} (0–0.5)`, input("percent", { value: "0.05", inputmode: "decimal" })),
    h("button", { type: "submit", id: "holdout-create" }, t(T.create)));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    ctx.ui.formErrors(form, null);
    const v = (name) => form.elements.namedItem(name).value.trim();
    const body = { key: v("key"), name: v("name"), scope: v("scope"), percent: Number(v("percent")) };
    try {
      await ctx.api("/admin/holdouts", { method: "POST", body });
      ctx.ui.toast(t(T.created));
      ctx.navigate(`#/experiments?r=${Date.now()}`); // a new hash: the page renders again with the new row
    } catch (err) {
      if (err instanceof ctx.ApiError && err.status === 422) ctx.ui.formErrors(form, err);
      else ctx.ui.toast(err.message, { kind: "error" });
    }
  });
  root.append(form);
}

// One labelled input per line (the shell styles no form layout).
const FIELD = "display:flex;gap:.5rem;align-items:center;margin:.35rem 0";
const LABEL = "min-width:9rem";

function field(h, label, input) {
  return h("label", { class: "field", style: FIELD }, h("span", { style: LABEL }, label), input);
}

function setupForm(ctx, flags) {
  const { h } = ctx.ui;
  const t = ctx.t;
  const input = (name, attrs = {}) => h("input", { name, id: `exp-${name.replace(/[^a-z0-9]/gi, "-")}`, ...attrs });
  const variantRow = (i, key, value, weight) =>
    h("div", { class: "row", style: "display:flex;gap:1rem;flex-wrap:wrap" },
      field(h, `${t(T.variants)} ${i + 1} ${t(T.key)}`, input(`variants[${i}].key`, { value: key })),
      field(h, t(T.value), input(`variants[${i}].value`, { value })),
      field(h, t(T.weight), input(`variants[${i}].weight`, { value: weight, inputmode: "decimal" })));
  const form = h("form", { id: "experiment-form", class: "card" },
    h("h3", {}, t(T.new)),
    field(h, t(T.key), input("key", { placeholder: "coupon-test" })),
    field(h, t(T.name), input("name")),
    field(h, t(T.hypothesis), h("textarea", { name: "hypothesis", rows: 2 })),
    field(h, t(T.flag), h("select", { name: "flag", id: "exp-flag" }, flags.map((f) => h("option", { value: f.key }, `${f.key} (${f.type})`)))),
    field(h, t(T.coverage), input("coverage", { value: "1" })),
    variantRow(0, "a", "", "0.5"),
    variantRow(1, "b", "", "0.5"),
    h("div", { class: "row", style: "display:flex;gap:1rem;flex-wrap:wrap" },
      field(h, `${t(T.metric)} ${t(T.key)}`, input("metrics.primary[0].key", { value: "primary" })),
      field(h, t(T.kind), h("select", { name: "metrics.primary[0].kind" },
        ["conversion", "mean", "retention"].map((k) => h("option", { value: k }, k)))),
      field(h, t(T.event), input("metrics.primary[0].event", { placeholder: "order_paid" }))),
    field(h, `${t(T.namespace)} (name:start-end)`, input("namespace", { placeholder: "home:0-0.5" })),
    h("button", { type: "submit", id: "exp-create" }, t(T.create)));

  const flagType = (key) => (flags.find((f) => f.key === key) || {}).type;
  function parseValue(text, type) {
    if (type === "string") return text;
    try {
      return JSON.parse(text);
    } catch {
      return text; // the API names the field and the expected type
    }
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    ctx.ui.formErrors(form, null);
    const v = (name) => form.elements.namedItem(name).value.trim();
    const type = flagType(v("flag"));
    const spec = {
      key: v("key"), name: v("name"), hypothesis: v("hypothesis"), flag: v("flag"),
      coverage: Number(v("coverage")),
      variants: [0, 1].map((i) => ({
        key: v(`variants[${i}].key`), value: parseValue(v(`variants[${i}].value`), type), weight: Number(v(`variants[${i}].weight`)),
      })),
      metrics: { primary: [{ key: v("metrics.primary[0].key"), kind: v("metrics.primary[0].kind"), event: v("metrics.primary[0].event") || null }] },
    };
    const ns = v("namespace").match(/^([a-z][a-z0-9_.-]*):([\d.]+)-([\d.]+)$/);
    if (v("namespace") && ns) spec.namespace = { name: ns[1], start: Number(ns[2]), end: Number(ns[3]) };
    try {
      await ctx.api("/admin/experiments", { method: "POST", body: spec });
      ctx.ui.toast(t(T.created));
      ctx.navigate(`#/experiments?key=${encodeURIComponent(spec.key)}`);
    } catch (err) {
      if (err instanceof ctx.ApiError && err.status === 422) ctx.ui.formErrors(form, err);
      else ctx.ui.toast(err.message, { kind: "error" });
    }
  });
  return form;
}

async function resultsView(root, ctx, key) {
  const { h, table, chart } = ctx.ui;
  const t = ctx.t;
  const path = `/admin/experiments/${encodeURIComponent(key)}`;
  const [exp, res] = await Promise.all([ctx.api(path), ctx.api(`${path}/results`, { query: { timeseries: "true" } })]);
  if (!ctx.isCurrent()) return;
  const act = async (action, body) => {
    try {
      await ctx.api(`${path}/${action}`, { method: "POST", body: body || {} });
      ctx.navigate(`#/experiments?key=${encodeURIComponent(key)}&r=${Date.now()}`);
    } catch (err) {
      ctx.ui.toast(err.message, { kind: "error" });
    }
  };
  const buttons = [];
  if (exp.status !== "running" && !exp.shipped_variant) {
    // A past start for imported history: datetime-local has no offset, so the API reads it in the app's timezone.
    const since = h("input", { type: "datetime-local", id: "exp-started-at", name: "started_at", "aria-label": t(T.startedAt), title: t(T.startedAt) });
    const form = h("form", { id: "exp-start-form", style: "display:inline-flex;gap:.5rem;align-items:center" },
      h("span", { class: "muted" }, t(T.startedAt)), since,
      h("button", { type: "submit", id: "exp-start" }, t(T.start)));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      ctx.ui.formErrors(form, null);
      try {
        await ctx.api(`${path}/start`, { method: "POST", body: since.value ? { started_at: since.value } : {} });
        ctx.navigate(`#/experiments?key=${encodeURIComponent(key)}&r=${Date.now()}`);
      } catch (err) {
        if (err instanceof ctx.ApiError && err.status === 422) ctx.ui.formErrors(form, err);
        else ctx.ui.toast(err.message, { kind: "error" });
      }
    });
    buttons.push(form);
  }
  if (exp.status === "running") buttons.push(h("button", { id: "exp-stop", onclick: () => act("stop") }, t(T.stop)));
  if (exp.status !== "draft" && !exp.shipped_variant) {
    for (const v of exp.variants) {
      buttons.push(h("button", { class: "ship", "data-variant": v.key, onclick: () => act("ship", { variant: v.key }) }, `${t(T.ship)} ${v.key}`));
    }
  }
  root.append(
    h("p", {}, h("a", { href: "#/experiments" }, t(T.back))),
    h("h2", { class: "exp-title" }, `${exp.name} (${exp.key})`),
    h("p", { class: "muted", id: "exp-meta" }, [
      `${t(T.status)}: ${exp.status}`, `${t(T.flag)}: ${exp.flag_key}`, res.method,
      `${t(T.started)}: ${exp.started_at ? ctx.fmt.datetime(exp.started_at) : "–"}`, `${t(T.asOf)}: ${ctx.fmt.datetime(res.as_of)}`,
    ].join(" · ")),
    exp.hypothesis ? h("p", {}, `${t(T.hypothesis)}: ${exp.hypothesis}`) : "",
    h("div", { class: "toolbar" }, ...buttons),
    h("div", { class: `card verdict verdict-${res.verdict.decision}`, id: "exp-verdict" },
      h("strong", {}, `${t(T.verdict)}: `), verdictText(res.verdict, ctx.lang)),
  );
  if (res.srm.warning) root.append(h("div", { class: "banner error", id: "exp-srm" }, `${t(T.srm)} (p = ${res.srm.p_value.toExponential(2)})`));
  const alarms = res.metrics.filter((m) => m.role === "guardrails").flatMap((m) => m.comparisons.filter((c) => c.alarm).map((c) => `${c.variant}: ${m.key}`));
  if (alarms.length) root.append(h("div", { class: "banner error", id: "exp-alarm" }, `${t(T.alarm)}: ${alarms.join(", ")}`));
  const ex = res.exposures;
  if (ex && ex.multiple_variants) {
    const text = t(T.multiple, { n: ctx.fmt.number(ex.multiple_variants), share: `${(ex.multiple_share * 100).toFixed(1)}%` });
    root.append(h("div", { class: `banner ${ex.multiple_warning ? "banner-error" : "banner-warn"}`, id: "exp-multiple" },
      ex.multiple_warning ? `${text}${ctx.lang === "zh" ? "。" : ". "}${t(T.multipleTooMany)}` : text));
  }
  if (ex && ex.anonymous_skipped) root.append(h("p", { class: "muted", id: "exp-anonymous" }, t(T.anonymous, { n: ctx.fmt.number(ex.anonymous_skipped) })));
  root.append(h("p", { id: "exp-users" }, `${t(T.users)}: ` + Object.entries(res.srm.users).map(([k, n]) => `${k} ${ctx.fmt.number(n)}`).join(" · ")));
  const rows = [];
  for (const m of res.metrics) {
    const values = Object.fromEntries(m.variants.map((v) => [v.variant, v.value]));
    const control = m.variants[0].variant;
    for (const c of m.comparisons) {
      const eff = c.relative || c.absolute || {};
      rows.push({
        metric: m.key, role: m.role, variant: c.variant, control: num(values[control]), value: num(values[c.variant]),
        lift: c.available ? (c.relative ? pct(eff.lift) : num(eff.lift)) : "–",
        interval: c.available && eff.ci ? (c.relative ? `[${pct(eff.ci[0])}, ${pct(eff.ci[1])}]` : `[${num(eff.ci[0])}, ${num(eff.ci[1])}]`) : "–",
        p: c.p_adjusted ?? c.p_value, ctw: c.chance_to_win,
        flag: c.alarm ? "⚠" : c.better ? "▲" : c.worse ? "▼" : "",
      });
    }
  }
  root.append(table([
    { key: "metric", title: t(T.metric) }, { key: "role", title: t(T.role) }, { key: "variant", title: t(T.variants) },
    { key: "control", title: t(T.control), align: "right" }, { key: "value", title: t(T.value), align: "right" },
    { key: "lift", title: t(T.lift), align: "right" }, { key: "interval", title: t(T.interval) },
    { key: "p", title: t(T.p), align: "right", format: (v, r) => (v != null ? v.toPrecision(3) : r.ctw != null ? `${(r.ctw * 100).toFixed(0)}%` : "–") },
    { key: "flag", title: "" },
  ], rows));
  if (res.timeseries && res.timeseries.length) {
    const el = h("div", { class: "chart", id: "exp-chart" });
    root.append(h("h3", {}, t(T.overTime)), el);
    const variants = exp.variants.slice(1).map((v) => v.key);
    const dates = res.timeseries.map((p) => p.date);
    const series = [];
    for (const v of variants) {
      const pt = (p, i) => (p.primary[v] ? (i == null ? p.primary[v].lift : p.primary[v].ci[i]) : null);
      series.push({ name: v, type: "line", data: res.timeseries.map((p) => pt(p)) });
      series.push({ name: `${v} lo`, type: "line", lineStyle: { type: "dashed" }, data: res.timeseries.map((p) => pt(p, 0)) });
      series.push({ name: `${v} hi`, type: "line", lineStyle: { type: "dashed" }, data: res.timeseries.map((p) => pt(p, 1)) });
    }
    chart(el, { tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "category", data: dates }, yAxis: { type: "value" }, series });
  }
}

export default {
  id: "experiments",
  title: T.title,
  group: "experiment",
  order: 50,
  range: false,
  async render(root, ctx) {
    if (ctx.params.key) return resultsView(root, ctx, ctx.params.key);
    const [experiments, flags, holdouts] = await Promise.all([
      ctx.apiAll("/admin/experiments"), ctx.apiAll("/admin/flags"), ctx.apiAll("/admin/holdouts"),
    ]);
    if (!ctx.isCurrent()) return;
    listView(root, ctx, experiments, flags);
    holdoutsView(root, ctx, holdouts);
  },
};

// Shared by the ad-hoc builders (retention, funnel, paths): the spec in the URL, the pickers' vocabulary,
// running a metric and putting the API's 422 details next to the right input.

// The builder's spec travels in the hash query as JSON (`#/funnel?start=…&q={…}`), so a link reproduces it.
export function specFromParams(params, defaults) {
  if (!params.q) return null;
  try {
    const spec = JSON.parse(params.q);
    return spec && typeof spec === "object" && !Array.isArray(spec) ? { ...defaults, ...spec } : null;
  } catch {
    return null;
  }
}

export function saveSpec(ctx, spec) {
  ctx.setParams({ q: JSON.stringify(spec) });
}

// One request per console session: the pickers do not need fresher names than that.
const vocabularies = new Map();
export function vocabulary(ctx) {
  const key = ctx.app.id;
  if (!vocabularies.has(key)) {
    const p = ctx.api("/admin/analytics/vocabulary").catch((err) => {
      vocabularies.delete(key);
      throw err;
    });
    vocabularies.set(key, p);
  }
  return vocabularies.get(key);
}

export function datalist(h, id, values) {
  return h("datalist", { id }, values.map((v) => h("option", { value: v })));
}

// pydantic says `steps.0.event`, the metric checks say `steps[0].event`: inputs are named the first way.
export function normalField(field) {
  return String(field || "").replace(/\[(\d+)\]/g, ".$1");
}

// Whole-request validators report no field ("(body)"); these messages name the input they are about.
const BODY_FIELDS = [
  [/^exclusion between steps/, (form) => (form.querySelector("[name^='exclusions.'][name$='.from_step']") ? "exclusions.0.from_step" : null)],
  [/^attribution 'step' needs/, () => "attribution_step"],
  [/^dropoff_step must be/, () => "dropoff_step"],
  [/^rolling_24h works with/, () => "day_model"],
  [/^bracket \(/, () => "brackets"],
  [/needs an ordered funnel/, () => "order"],
  [/steps: at most/, () => "steps"],
];

export function showErrors(ctx, form, err) {
  if (!(err instanceof ctx.ApiError) || err.status !== 422) return ctx.ui.formErrors(form, null);
  const details = (err.details || []).map((d) => {
    let field = normalField(d.field);
    if (!field || field === "(body)") {
      const hit = BODY_FIELDS.find(([re]) => re.test(String(d.message || "")));
      field = (hit && hit[1](form)) || field;
    }
    return { ...d, field };
  });
  return ctx.ui.formErrors(form, { ...err, message: err.message, details });
}

export async function runMetric(ctx, metric, body) {
  const range = ctx.range;
  return ctx.api(`/admin/analytics/${metric}`, {
    method: "POST",
    body: { start: range.start, end: range.end, ...body },
  });
}

export const pct = (v, digits = 1) => (v == null ? "" : `${(v * 100).toFixed(digits)}%`);

// A labelled field for the builders' grids; `hint` is a short muted note under the input.
export function field(h, label, input, hint) {
  return h("label", { class: "bfield" }, h("span", { class: "bfield-label" }, label), input,
    hint ? h("span", { class: "muted bfield-hint" }, hint) : null);
}

export function select(h, name, options, value, attrs = {}) {
  return h("select", { name, ...attrs },
    options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value ?? "") }, text)));
}

export function ensureStyles(h) {
  if (document.getElementById("analytics-builders-css")) return;
  document.head.append(h("link", { id: "analytics-builders-css", rel: "stylesheet", href: "/console/pages/analytics/lib/builders.css" }));
}

// Retention cells as a heatmap table: shaded by rate, null (period not over yet) blank, weighted mean first.
export function retentionTable(ctx, result, { maxRows = Infinity, id } = {}) {
  const { h, table } = ctx.ui;
  const cols = result.columns;
  const hasBd = result.rows.some((r) => r.breakdown !== "(all)") || result.weighted_mean.length > 1;
  const cell = (rate, v) => {
    if (rate == null) return h("span", { class: "ret-cell ret-null", title: ctx.t("ret.notYet") });
    const a = Math.max(0.06, Math.min(1, rate));
    return h("span", { class: "ret-cell", style: `background: rgba(240, 112, 40, ${a.toFixed(3)}); color: ${a > 0.55 ? "#fff" : "inherit"}`, title: v == null ? "" : ctx.fmt.number(v) }, pct(rate));
  };
  const columns = [
    { key: "cohort", title: ctx.t("ret.cohort") },
    ...(hasBd ? [{ key: "breakdown", title: ctx.t("ret.breakdown") }] : []),
    { key: "size", title: ctx.t("ret.size"), align: "right", format: (v) => ctx.fmt.number(v) },
    ...cols.map((c, i) => ({ key: `c${i}`, title: periodTitle(result.period, c), align: "right",
      format: (_, row) => cell(row.rate[i], row.retained ? row.retained[i] : null) })),
  ];
  const mean = result.weighted_mean.map((m) => ({
    cohort: ctx.t("ret.mean"), breakdown: m.breakdown, size: m.cohort_users[0] ?? 0, rate: m.rate, retained: null, mean: true,
  }));
  const rows = result.rows.length > maxRows ? result.rows.slice(-maxRows) : result.rows;
  const el = table(columns, [...mean, ...rows], { empty: "ret.empty" });
  el.classList.add("ret-table");
  if (id) el.id = id;
  const body = el.querySelector("tbody");
  for (let i = 0; i < mean.length && body; i += 1) body.children[i]?.classList.add("ret-mean");
  return el;
}

export function periodTitle(period, col) {
  if (/^\d+-\d+$/.test(col)) return col;
  return `${{ day: "D", week: "W", month: "M" }[period] || ""}${col}`;
}

// Runs the builder's metric for a spec: latest request wins, 422 details go next to their inputs,
// `root.dataset.loaded` is set once drawn ("error" after a 422) so tests and the bench can wait on it.
export function makeRunner({ ctx, root, form, submit, status, metric, body, draw }) {
  let latest = 0;
  async function run(spec) {
    const mine = ++latest;
    root.dataset.loaded = "";
    showErrors(ctx, form, null);
    status.textContent = ctx.t("b.running");
    submit.disabled = true;
    let res;
    try {
      res = await runMetric(ctx, metric, body(spec));
    } catch (err) {
      if (mine !== latest || !ctx.isCurrent()) return;
      submit.disabled = false;
      status.textContent = "";
      if (err instanceof ctx.ApiError && err.status === 422) {
        showErrors(ctx, form, err);
        root.dataset.loaded = "error";
        return;
      }
      throw err;
    }
    if (mine !== latest || !ctx.isCurrent()) return;
    submit.disabled = false;
    draw(res, spec);
    root.dataset.loaded = `${ctx.range.start}..${ctx.range.end}`;
  }
  return run;
}

// Submit saves the spec in the URL and runs it; a range change re-runs the form as it stands.
export function wire(ctx, form, read, run) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const spec = read();
    saveSpec(ctx, spec);
    run(spec).catch((err) => ctx.isCurrent() && ctx.ui.toast(String(err?.message || err), { kind: "error" }));
  });
  ctx.onRangeChange(() => run(read()));
}

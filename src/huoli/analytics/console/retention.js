// Retention builder: cohort type, criterion / brackets, day model, period, number of periods, WeChat presets,
// breakdown → heatmap table with the weighted mean row, and the mean curve per breakdown value.
import * as B from "./lib/builder.js";

const DEFAULTS = {
  preset: "", cohort: "first_time", start_event: "", return_event: "", criterion: "on", brackets: "",
  day_model: "calendar", period: "day", periods: 7, breakdown: "",
};

// "1, 2-7, 8-14" → [[1,1],[2,7],[8,14]]; null when it does not parse (the API then says why).
export function parseBrackets(text) {
  const out = [];
  for (const part of String(text || "").split(/[,，\s]+/).filter(Boolean)) {
    const m = part.match(/^(\d+)(?:-(\d+))?$/);
    if (!m) return null;
    out.push([Number(m[1]), Number(m[2] ?? m[1])]);
  }
  return out;
}

export function retentionBody(spec) {
  if (spec.preset) {
    return { preset: spec.preset, ...(spec.breakdown ? { breakdown: spec.breakdown } : {}) };
  }
  const body = {
    cohort: spec.cohort, period: spec.period, day_model: spec.day_model,
    periods: Number(spec.periods),
    criterion: spec.criterion === "bracket" ? "on" : spec.criterion,
  };
  if (spec.start_event) body.start_event = { event: spec.start_event };
  if (spec.return_event) body.return_event = { event: spec.return_event };
  if (spec.criterion === "bracket") body.brackets = parseBrackets(spec.brackets) ?? spec.brackets;
  if (spec.breakdown) body.breakdown = spec.breakdown;
  return body;
}

export default {
  id: "retention",
  title: { zh: "留存分析", en: "Retention" },
  group: "analytics",
  order: 30,
  async render(root, ctx) {
    const { h, clear, chart } = ctx.ui;
    const t = ctx.t;
    B.ensureStyles(h);
    const vocab = await B.vocabulary(ctx);
    if (!ctx.isCurrent()) return;
    const spec = B.specFromParams(ctx.params, DEFAULTS) || { ...DEFAULTS };

    const ev = (name) => h("input", { name, list: "ret-events", value: spec[name], placeholder: t("ret.anyEvent"), autocomplete: "off" });
    const inputs = {
      preset: B.select(h, "preset", [["", t("ret.custom")], ["wechat_new", t("ret.wechatNew")], ["wechat_active", t("ret.wechatActive")]], spec.preset),
      cohort: B.select(h, "cohort", [["first_time", t("ret.firstTime")], ["recurring", t("ret.recurring")]], spec.cohort),
      start_event: ev("start_event"),
      return_event: ev("return_event"),
      criterion: B.select(h, "criterion", [["on", t("ret.on")], ["on_or_after", t("ret.onOrAfter")], ["bracket", t("ret.bracket")]], spec.criterion),
      brackets: h("input", { name: "brackets", value: spec.brackets, placeholder: "1, 2-7, 8-14", autocomplete: "off" }),
      day_model: B.select(h, "day_model", [["calendar", t("ret.calendar")], ["rolling_24h", t("ret.rolling")]], spec.day_model),
      period: B.select(h, "period", [["day", t("ret.day")], ["week", t("ret.week")], ["month", t("ret.month")]], spec.period),
      periods: h("input", { name: "periods", type: "number", min: 0, max: 400, value: spec.periods }),
      breakdown: h("input", { name: "breakdown", list: "ret-fields", value: spec.breakdown, placeholder: t("b.none"), autocomplete: "off" }),
    };
    const submit = h("button", { type: "submit", class: "primary", id: "ret-run" }, t("b.run"));
    const form = h("form", { id: "ret-form", class: "builder-form", novalidate: true },
      B.datalist(h, "ret-events", vocab.events.map((e) => e.name)),
      B.datalist(h, "ret-fields", [...vocab.fields, ...vocab.user_fields]),
      h("div", { class: "bgrid" },
        B.field(h, t("ret.preset"), inputs.preset, t("ret.presetHint")),
        B.field(h, t("ret.cohortType"), inputs.cohort),
        B.field(h, t("ret.startEvent"), inputs.start_event),
        B.field(h, t("ret.returnEvent"), inputs.return_event),
        B.field(h, t("ret.criterion"), inputs.criterion),
        B.field(h, t("ret.brackets"), inputs.brackets),
        B.field(h, t("ret.dayModel"), inputs.day_model),
        B.field(h, t("ret.period"), inputs.period),
        B.field(h, t("ret.periods"), inputs.periods),
        B.field(h, t("b.breakdown"), inputs.breakdown)),
      h("div", { class: "actions" }, submit));
    const status = h("p", { class: "muted", id: "ret-status" });
    const tableEl = h("div", { id: "ret-table" });
    const chartEl = h("div", { id: "ret-chart", class: "chart" });
    root.append(h("section", { class: "card" }, form),
      status,
      h("section", { class: "card" }, h("h2", {}, t("ret.heatmap")), tableEl),
      h("section", { class: "card" }, h("h2", {}, t("ret.curve")), chartEl));

    const syncDisabled = () => {
      const preset = !!inputs.preset.value;
      for (const k of ["cohort", "start_event", "return_event", "criterion", "brackets", "day_model", "period", "periods"]) {
        inputs[k].disabled = preset;
      }
      if (!preset) inputs.brackets.disabled = inputs.criterion.value !== "bracket";
      inputs.periods.disabled = preset || inputs.criterion.value === "bracket";
    };
    inputs.preset.addEventListener("change", syncDisabled);
    inputs.criterion.addEventListener("change", syncDisabled);
    syncDisabled();

    const read = () => Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, inputs[k].value.trim()]));
    function draw(res) {
      const r = res.result;
      clear(tableEl).append(B.retentionTable(ctx, r, { id: "ret-heatmap" }));
      chart(chartEl, {
        animation: false, tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => B.pct(v) },
        legend: { top: 0, type: "scroll" }, grid: { left: 56, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: r.columns.map((c) => B.periodTitle(r.period, c)) },
        yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
        series: r.weighted_mean.map((m) => ({ name: m.breakdown, type: "line", connectNulls: false, data: m.rate })),
      });
      const cohorts = r.rows.length;
      status.textContent = t("ret.summary", { cohorts, users: ctx.fmt.number(r.rows.reduce((n, x) => n + x.size, 0)), ms: res.elapsed_ms ?? "–" });
    }

    const run = B.makeRunner({ ctx, root, form, submit, status, metric: "retention", body: retentionBody, draw });
    B.wire(ctx, form, read, run);
    await run(spec);
  },
};

// Funnel builder: steps (event picker + optional property filter; add, remove, reorder), window, order,
// exclusions, breakdown and attribution → funnel chart, conversion table, time to convert, drop-off.
import * as B from "./lib/builder.js";

const OPS = ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_set", "is_not_set"];
const UNITS = { m: 60, h: 3600, d: 86400 };
const DEFAULTS = {
  steps: [{ event: "app_show" }, { event: "view_item" }, { event: "add_to_cart" }, { event: "order_paid" }],
  window: 7, unit: "d", order: "sequential", exclusions: [], breakdown: "", attribution: "first_touch",
  attribution_step: "", dropoff_step: "",
};

// A filter value as typed: lists for in/not_in ("a, b"), numbers when the text is a number.
function parseValue(op, text) {
  if (op === "is_set" || op === "is_not_set") return null;
  const one = (s) => (s !== "" && !Number.isNaN(Number(s)) ? Number(s) : s);
  if (op === "in" || op === "not_in") return String(text).split(",").map((s) => one(s.trim())).filter((s) => s !== "");
  return one(String(text).trim());
}

function selector(step) {
  const out = { event: step.event };
  if (step.field) out.filters = [{ field: step.field, op: step.op || "eq", value: parseValue(step.op || "eq", step.value ?? "") }];
  return out;
}

export function funnelBody(spec) {
  const body = {
    steps: spec.steps.map(selector),
    window_seconds: Math.round(Number(spec.window) * (UNITS[spec.unit] || 86400)),
    order: spec.order,
    exclusions: spec.exclusions.map((x) => ({
      event: { event: x.event },
      from_step: Number(x.from_step || 1),
      ...(x.to_step ? { to_step: Number(x.to_step) } : {}),
    })),
    attribution: spec.attribution,
  };
  if (spec.attribution === "step") body.attribution_step = Number(spec.attribution_step) || null;
  if (spec.breakdown) body.breakdown = spec.breakdown;
  if (spec.dropoff_step) body.dropoff_step = Number(spec.dropoff_step);
  return body;
}

function duration(seconds, t) {
  if (seconds == null) return "–";
  if (seconds < 90) return `${Math.round(seconds)} ${t("f.sec")}`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} ${t("f.min")}`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} ${t("f.hour")}`;
  return `${(seconds / 86400).toFixed(1)} ${t("f.day")}`;
}

export default {
  id: "funnel",
  title: { zh: "漏斗分析", en: "Funnels" },
  group: "analytics",
  order: 31,
  async render(root, ctx) {
    const { h, clear, chart, table } = ctx.ui;
    const t = ctx.t;
    B.ensureStyles(h);
    const vocab = await B.vocabulary(ctx);
    if (!ctx.isCurrent()) return;
    const spec = B.specFromParams(ctx.params, DEFAULTS) || structuredClone(DEFAULTS);
    let steps = (Array.isArray(spec.steps) ? spec.steps : DEFAULTS.steps).map((s) => ({ ...s }));
    let exclusions = (Array.isArray(spec.exclusions) ? spec.exclusions : []).map((x) => ({ ...x }));

    const stepsEl = h("ol", { id: "f-steps", class: "f-steps" });
    const exclEl = h("div", { id: "f-exclusions" });
    const dropoffSel = h("select", { name: "dropoff_step", id: "f-dropoff-step" });
    const inputs = {
      window: h("input", { name: "window_seconds", id: "f-window", type: "number", min: 1, step: "any", value: spec.window }),
      unit: B.select(h, "unit", [["m", t("f.min")], ["h", t("f.hour")], ["d", t("f.day")]], spec.unit, { "aria-label": t("f.unit") }),
      order: B.select(h, "order", [["sequential", t("f.sequential")], ["strict", t("f.strict")], ["any", t("f.any")]], spec.order),
      breakdown: h("input", { name: "breakdown", list: "f-fields", value: spec.breakdown, placeholder: t("b.none"), autocomplete: "off" }),
      attribution: B.select(h, "attribution", [["first_touch", t("f.firstTouch")], ["last_touch", t("f.lastTouch")], ["step", t("f.stepTouch")]], spec.attribution),
      attribution_step: h("input", { name: "attribution_step", type: "number", min: 1, value: spec.attribution_step }),
      dropoff_step: dropoffSel,
    };

    // Inputs are named after the request's paths (steps.0.event …) so 422 details land next to them.
    function stepRow(step, i) {
      const set = (k) => (e) => { step[k] = e.target.value; };
      const move = (d) => () => {
        const j = i + d;
        if (j < 0 || j >= steps.length) return;
        [steps[i], steps[j]] = [steps[j], steps[i]];
        drawSteps();
      };
      return h("li", { class: "f-step", dataset: { step: i + 1 } },
        h("input", { name: `steps.${i}.event`, class: "f-event", list: "f-events", value: step.event || "", placeholder: t("f.event"), "aria-label": `${t("f.step")} ${i + 1}`, autocomplete: "off", oninput: set("event") }),
        h("input", { name: `steps.${i}.filters.0.field`, class: "f-field", list: "f-fields", value: step.field || "", placeholder: t("f.filterField"), "aria-label": t("f.filterField"), autocomplete: "off", oninput: set("field") }),
        B.select(h, `steps.${i}.filters.0.op`, OPS.map((o) => [o, o]), step.op || "eq", { class: "f-op", "aria-label": t("f.op"), onchange: set("op") }),
        h("input", { name: `steps.${i}.filters.0.value`, class: "f-value", value: step.value ?? "", placeholder: t("f.value"), "aria-label": t("f.value"), autocomplete: "off", oninput: set("value") }),
        h("span", { class: "f-step-buttons" },
          h("button", { type: "button", class: "f-up", title: t("f.up"), "aria-label": t("f.up"), disabled: i === 0, onclick: move(-1) }, "↑"),
          h("button", { type: "button", class: "f-down", title: t("f.down"), "aria-label": t("f.down"), disabled: i === steps.length - 1, onclick: move(1) }, "↓"),
          h("button", { type: "button", class: "f-remove", title: t("f.remove"), "aria-label": t("f.remove"), disabled: steps.length <= 2, onclick: () => { steps.splice(i, 1); drawSteps(); } }, "✕")));
    }
    function drawSteps() {
      clear(stepsEl).append(...steps.map(stepRow));
      const keep = dropoffSel.value || spec.dropoff_step || "";
      clear(dropoffSel).append(h("option", { value: "" }, t("b.none")),
        ...steps.slice(0, -1).map((s, i) => h("option", { value: i + 1, selected: String(i + 1) === String(keep) }, `${i + 1} → ${i + 2}`)));
    }
    function exclRow(x, i) {
      const set = (k) => (e) => { x[k] = e.target.value; };
      return h("div", { class: "f-excl", dataset: { exclusion: i } },
        h("input", { name: `exclusions.${i}.event.event`, list: "f-events", value: x.event || "", placeholder: t("f.event"), "aria-label": t("f.exclEvent"), autocomplete: "off", oninput: set("event") }),
        h("label", {}, t("f.between"), " ", h("input", { name: `exclusions.${i}.from_step`, type: "number", min: 1, value: x.from_step || 1, class: "narrow", oninput: set("from_step") })),
        h("label", {}, t("f.and"), " ", h("input", { name: `exclusions.${i}.to_step`, type: "number", min: 1, value: x.to_step || "", placeholder: t("f.last"), class: "narrow", oninput: set("to_step") })),
        h("button", { type: "button", class: "f-excl-remove", "aria-label": t("f.remove"), onclick: () => { exclusions.splice(i, 1); drawExcl(); } }, "✕"));
    }
    function drawExcl() {
      clear(exclEl).append(...exclusions.map(exclRow));
    }
    drawSteps();
    drawExcl();

    const submit = h("button", { type: "submit", class: "primary", id: "f-run" }, t("b.run"));
    const form = h("form", { id: "f-form", class: "builder-form", novalidate: true },
      B.datalist(h, "f-events", vocab.events.map((e) => e.name)),
      B.datalist(h, "f-fields", [...vocab.fields, ...vocab.user_fields]),
      h("h3", {}, t("f.steps")), h("div", { class: "field-anchor" }, h("input", { type: "hidden", name: "steps" })),
      stepsEl,
      h("button", { type: "button", id: "f-add-step", onclick: () => { steps.push({ event: "" }); drawSteps(); stepsEl.lastElementChild?.querySelector("input")?.focus(); } }, t("f.addStep")),
      h("h3", {}, t("f.exclusions")), exclEl,
      h("button", { type: "button", id: "f-add-excl", onclick: () => { exclusions.push({ event: "", from_step: 1 }); drawExcl(); } }, t("f.addExcl")),
      h("div", { class: "bgrid" },
        B.field(h, t("f.window"), h("span", { class: "inline" }, inputs.window, inputs.unit)),
        B.field(h, t("f.order"), inputs.order),
        B.field(h, t("b.breakdown"), inputs.breakdown),
        B.field(h, t("f.attribution"), inputs.attribution),
        B.field(h, t("f.attributionStep"), inputs.attribution_step),
        B.field(h, t("f.dropoffStep"), inputs.dropoff_step)),
      h("div", { class: "actions" }, submit));

    const status = h("p", { class: "muted", id: "f-status" });
    const chartEl = h("div", { id: "f-chart", class: "chart" });
    const tableEl = h("div", { id: "f-table" });
    const bdEl = h("div", { id: "f-breakdown" });
    const ttcEl = h("div", { id: "f-ttc-chart", class: "chart chart-short" });
    const ttcNote = h("p", { class: "muted", id: "f-ttc-mean" });
    const dropEl = h("div", { id: "f-dropoff" });
    root.append(h("section", { class: "card" }, form), status,
      h("section", { class: "card" }, h("h2", {}, t("f.chart")), chartEl, tableEl),
      h("section", { class: "card", id: "f-breakdown-card", hidden: true }, h("h2", {}, t("f.byBreakdown")), bdEl),
      h("section", { class: "card" }, h("h2", {}, t("f.ttc")), ttcNote, ttcEl),
      h("section", { class: "card" }, h("h2", {}, t("f.dropoff")), dropEl));

    const read = () => ({
      steps: steps.map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== "" && v != null))),
      window: inputs.window.value, unit: inputs.unit.value, order: inputs.order.value,
      exclusions: exclusions.map((x) => ({ ...x })), breakdown: inputs.breakdown.value.trim(),
      attribution: inputs.attribution.value, attribution_step: inputs.attribution_step.value,
      dropoff_step: inputs.dropoff_step.value,
    });

    function draw(res, current) {
      const r = res.result;
      const s = r.steps;
      const labels = s.map((x) => `${x.step}. ${x.event}`);
      chart(chartEl, {
        animation: false, tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
        grid: { left: 140, right: 90, top: 8, bottom: 8 },
        xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", inverse: true, data: labels },
        series: [{ name: t("f.users"), type: "bar", data: s.map((x) => x.users), label: { show: true, position: "right",
          formatter: (p) => `${ctx.fmt.number(p.value)} · ${B.pct(s[p.dataIndex].conversion_from_start)}` } }],
      });
      const cols = [
        { key: "step", title: t("f.step"), align: "right" },
        { key: "event", title: t("f.event") },
        { key: "users", title: t("f.users"), align: "right", format: (v) => ctx.fmt.number(v) },
        { key: "conversion_from_start", title: t("f.fromStart"), align: "right", format: (v) => B.pct(v) },
        { key: "conversion_from_previous", title: t("f.fromPrev"), align: "right", format: (v) => B.pct(v) },
        { key: "dropped", title: t("f.dropped"), align: "right", format: (v) => (v == null ? "" : ctx.fmt.number(v)) },
      ];
      clear(tableEl).append(table(cols, s));
      const bdCard = document.getElementById("f-breakdown-card");
      if (current.breakdown && r.breakdown.length) {
        bdCard.hidden = false;
        const bcols = [{ key: "breakdown", title: current.breakdown },
          ...s.map((x, i) => ({ key: `s${i}`, title: labels[i], align: "right",
            format: (_, row) => `${ctx.fmt.number(row.steps[i].users)}${i ? ` (${B.pct(row.steps[i].conversion_from_start)})` : ""}` }))];
        clear(bdEl).append(table(bcols, r.breakdown));
      } else {
        bdCard.hidden = true;
        clear(bdEl);
      }
      const ttc = r.time_to_convert;
      ttcNote.textContent = ttc ? t("f.ttcMean", { mean: duration(ttc.mean_seconds, t) }) : "";
      chart(ttcEl, {
        animation: false, tooltip: { trigger: "axis", renderMode: "richText" },
        grid: { left: 56, right: 16, top: 16, bottom: 28 },
        xAxis: { type: "category", data: (ttc?.buckets || []).map((b) => b.bucket) }, yAxis: { type: "value", minInterval: 1 },
        series: [{ name: t("f.users"), type: "bar", data: (ttc?.buckets || []).map((b) => b.users) }],
      });
      clear(dropEl);
      const d = r.dropoff;
      if (!d) {
        dropEl.append(h("p", { class: "muted" }, t("f.dropoffHint")));
      } else {
        dropEl.append(
          h("p", { id: "f-dropoff-count" }, t("f.droppedAt", { k: d.step, next: d.step + 1, users: ctx.fmt.number(d.users) })),
          table([{ key: "next", title: t("f.wentNext") }, { key: "users", title: t("f.users"), align: "right", format: (v) => ctx.fmt.number(v) }], d.next),
          d.user_ids.length ? h("details", {}, h("summary", {}, t("f.userList", { n: d.user_ids.length })),
            h("p", { class: "mono f-user-ids" }, d.user_ids.join(", "))) : null);
      }
      status.textContent = t("f.summary", { users: ctx.fmt.number(s[0]?.users ?? 0), conv: B.pct(s.length ? s[s.length - 1].conversion_from_start : null), ms: res.elapsed_ms ?? "–" });
    }

    const run = B.makeRunner({ ctx, root, form, submit, status, metric: "funnel", body: funnelBody, draw });
    B.wire(ctx, form, read, run);
    await run({ ...spec, steps, exclusions });
  },
};

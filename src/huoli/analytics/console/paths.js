// Paths builder: after / before a page or event, depth, top-N per level → Sankey, entry and exit pages,
// and what the top-N cut left out (so the picture never silently disagrees with a funnel).
import * as B from "./lib/builder.js";

const DEFAULTS = { kind: "pages", anchor: "", direction: "after", depth: 4, top: 10, gap_minutes: 30 };

export function pathsBody(spec) {
  return {
    kind: spec.kind, anchor: spec.anchor || null, direction: spec.direction,
    depth: Number(spec.depth), top: Number(spec.top),
    session_gap_seconds: Math.round(Number(spec.gap_minutes) * 60),
  };
}

// Sankey nodes must not repeat (it draws no cycles): a node is (distance from the anchor, label).
export function sankeyData(result) {
  const nodes = new Map();
  const links = [];
  const after = result.direction === "after";
  const node = (pos, label) => {
    const name = `${pos}\u2063${label}`;
    if (!nodes.has(name)) nodes.set(name, { name, label, depth: pos });
    return name;
  };
  for (const lv of result.levels) {
    const [a, b] = after ? [lv.level - 1, lv.level] : [-lv.level, -(lv.level - 1)];
    for (const tr of lv.transitions) {
      links.push({ source: node(a, tr.from), target: node(b, tr.to), value: tr.sessions });
    }
  }
  const min = Math.min(0, ...[...nodes.values()].map((n) => n.depth));
  return { nodes: [...nodes.values()].map((n) => ({ ...n, depth: n.depth - min })), links };
}

export default {
  id: "paths",
  title: { zh: "路径分析", en: "Paths" },
  group: "analytics",
  order: 32,
  async render(root, ctx) {
    const { h, clear, chart, table } = ctx.ui;
    const t = ctx.t;
    B.ensureStyles(h);
    const vocab = await B.vocabulary(ctx);
    if (!ctx.isCurrent()) return;
    const spec = B.specFromParams(ctx.params, DEFAULTS) || { ...DEFAULTS };

    const anchorList = h("datalist", { id: "p-anchors" });
    const inputs = {
      kind: B.select(h, "kind", [["pages", t("p.pages")], ["events", t("p.events")]], spec.kind),
      anchor: h("input", { name: "anchor", list: "p-anchors", value: spec.anchor, placeholder: t("p.entry"), autocomplete: "off" }),
      direction: B.select(h, "direction", [["after", t("p.after")], ["before", t("p.before")]], spec.direction),
      depth: h("input", { name: "depth", type: "number", min: 1, max: 20, value: spec.depth }),
      top: h("input", { name: "top", type: "number", min: 1, max: 200, value: spec.top }),
      gap_minutes: h("input", { name: "session_gap_seconds", type: "number", min: 1, max: 1440, value: spec.gap_minutes }),
    };
    const fillAnchors = () => {
      const values = inputs.kind.value === "pages" ? vocab.pages.map((p) => p.page) : vocab.events.map((e) => e.name);
      clear(anchorList).append(...values.map((v) => h("option", { value: v })));
    };
    inputs.kind.addEventListener("change", fillAnchors);
    fillAnchors();
    const submit = h("button", { type: "submit", class: "primary", id: "p-run" }, t("b.run"));
    const form = h("form", { id: "p-form", class: "builder-form", novalidate: true }, anchorList,
      h("div", { class: "bgrid" },
        B.field(h, t("p.kind"), inputs.kind),
        B.field(h, t("p.anchor"), inputs.anchor, t("p.anchorHint")),
        B.field(h, t("p.direction"), inputs.direction),
        B.field(h, t("p.depth"), inputs.depth),
        B.field(h, t("p.top"), inputs.top),
        B.field(h, t("p.gap"), inputs.gap_minutes)),
      h("div", { class: "actions" }, submit));
    const status = h("p", { class: "muted", id: "p-status" });
    const chartEl = h("div", { id: "p-chart", class: "chart chart-tall" });
    const cutEl = h("div", { id: "p-cut" });
    const entryEl = h("div", { id: "p-entries" });
    const exitEl = h("div", { id: "p-exits" });
    root.append(h("section", { class: "card" }, form), status,
      h("section", { class: "card" }, h("h2", {}, t("p.sankey")), chartEl),
      h("section", { class: "card" }, h("h2", {}, t("p.cut")), cutEl),
      h("div", { class: "two-col" },
        h("section", { class: "card" }, h("h2", {}, t("p.entryPages")), entryEl),
        h("section", { class: "card" }, h("h2", {}, t("p.exitPages")), exitEl)));

    const read = () => Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, inputs[k].value.trim()]));

    function draw(res) {
      const r = res.result;
      const data = sankeyData(r);
      chart(chartEl, {
        animation: false, tooltip: { trigger: "item", renderMode: "richText" },
        series: [{
          type: "sankey", left: 8, right: 160, top: 8, bottom: 8, nodeAlign: "left", layoutIterations: 0,
          emphasis: { focus: "adjacency" }, lineStyle: { color: "gradient", curveness: 0.5 },
          label: { formatter: (p) => p.data.label },
          data: data.nodes, links: data.links,
        }],
      });
      clear(cutEl).append(table([
        { key: "level", title: t("p.level"), align: "right" },
        { key: "kept", title: t("p.kept"), align: "right", format: (v) => ctx.fmt.number(v) },
        { key: "keptSessions", title: t("p.keptSessions"), align: "right", format: (v) => ctx.fmt.number(v) },
        { key: "cutT", title: t("p.cutTransitions"), align: "right", format: (v) => ctx.fmt.number(v) },
        { key: "cutS", title: t("p.cutSessions"), align: "right", format: (v) => ctx.fmt.number(v) },
      ], r.levels.map((lv) => ({
        level: lv.level, kept: lv.transitions.length, keptSessions: lv.transitions.reduce((n, x) => n + x.sessions, 0),
        cutT: lv.cut.transitions, cutS: lv.cut.sessions,
      }))));
      const pages = r.pages;
      if (!pages) {
        for (const el of [entryEl, exitEl]) clear(el).append(h("p", { class: "muted" }, t("p.pagesOnly")));
      } else {
        const entries = pages.filter((p) => p.entries > 0).sort((a, b) => b.entries - a.entries || a.page.localeCompare(b.page)).slice(0, 20);
        const exits = pages.filter((p) => p.exits > 0).sort((a, b) => b.exits - a.exits || a.page.localeCompare(b.page)).slice(0, 20);
        clear(entryEl).append(table([
          { key: "page", title: t("p.page") },
          { key: "entries", title: t("p.entries"), align: "right", format: (v) => ctx.fmt.number(v) },
          { key: "bounce_rate", title: t("p.bounce"), align: "right", format: (v) => B.pct(v) },
        ], entries));
        clear(exitEl).append(table([
          { key: "page", title: t("p.page") },
          { key: "exits", title: t("p.exits"), align: "right", format: (v) => ctx.fmt.number(v) },
          { key: "exit_rate", title: t("p.exitRate"), align: "right", format: (v) => B.pct(v) },
        ], exits));
      }
      status.textContent = t("p.summary", { sessions: ctx.fmt.number(r.sessions), ms: res.elapsed_ms ?? "–" });
    }

    const run = B.makeRunner({ ctx, root, form, submit, status, metric: "paths", body: pathsBody, draw });
    B.wire(ctx, form, read, run);
    await run(spec);
  },
};

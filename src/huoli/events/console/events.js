// Events: the latest events of the app (GET /admin/events/recent), filtered in the page — an SDK debugger.

const LIMITS = [50, 100, 500, 1000];
const SOURCES = ["", "client", "server", "import"];
const SHOWN = ["page", "scene", "channel", "duration_ms", "load_ms", "item_id", "amount_fen", "order_id",
  "coupon_id", "sharer_id", "share_id", "campaign"];

function details(row) {
  const out = {};
  for (const k of SHOWN) if (row[k] != null) out[k] = row[k];
  if (row.properties) {
    try {
      Object.assign(out, typeof row.properties === "string" ? JSON.parse(row.properties) : row.properties);
    } catch {
      out.properties = row.properties;
    }
  }
  return Object.keys(out).length ? JSON.stringify(out) : "";
}

export default {
  id: "events",
  title: { zh: "事件", en: "Events" },
  group: "events",
  order: 20,
  range: false,
  async render(root, ctx) {
    const { h, clear, table } = ctx.ui;
    const t = ctx.t;
    const limit = LIMITS.includes(Number(ctx.params.limit)) ? Number(ctx.params.limit) : 100;
    const q = h("input", {
      type: "search", id: "events-filter", name: "q", value: ctx.params.q || "",
      placeholder: t("events.filter"), "aria-label": t("events.filter"),
    });
    const source = h("select", { id: "events-source", name: "source", "aria-label": t("events.source") },
      SOURCES.map((s) => h("option", { value: s, selected: (ctx.params.source || "") === s },
        s ? s : t("events.allSources"))));
    const limitSel = h("select", { id: "events-limit", name: "limit", "aria-label": t("events.limit") },
      LIMITS.map((n) => h("option", { value: String(n), selected: n === limit }, t("events.latest", { n }))));
    const refresh = h("button", { type: "button", id: "events-refresh" }, t("events.refresh"));
    const count = h("span", { class: "muted", id: "events-count" });
    const tableSlot = h("div", { id: "events-table" });
    root.append(h("div", { class: "toolbar" }, q, source, limitSel, refresh, count), tableSlot);

    let rows = [];
    const columns = [
      { key: "ts", title: t("events.ts"), format: (v) => ctx.fmt.datetime(v) },
      { key: "name", title: t("events.name") },
      { key: "user", title: t("events.user"), format: (_, r) => r.user_id || r.anonymous_id || "" },
      { key: "source", title: t("events.source") },
      { key: "properties", title: t("events.details"), format: (_, r) => h("span", { class: "mono" }, details(r)) },
    ];

    function draw() {
      const needle = q.value.trim().toLowerCase();
      const src = source.value;
      const shown = rows.filter((r) => (!src || r.source === src) && (!needle
        || r.name.toLowerCase().includes(needle)
        || String(r.user_id || r.anonymous_id || "").toLowerCase().includes(needle)));
      clear(tableSlot).append(table(columns, shown, { empty: t("events.empty") }));
      count.textContent = t("events.count", { shown: shown.length, total: rows.length });
      ctx.setParams({ q: q.value.trim(), source: src, limit: limitSel.value === "100" ? "" : limitSel.value });
    }

    async function load() {
      rows = await ctx.api("/admin/events/recent", { query: { limit: limitSel.value } });
      if (ctx.isCurrent()) draw();
    }

    q.addEventListener("input", draw);
    source.addEventListener("change", draw);
    limitSel.addEventListener("change", () => load().catch((e) => ctx.ui.toast(e.message, { kind: "error" })));
    refresh.addEventListener("click", () => load().catch((e) => ctx.ui.toast(e.message, { kind: "error" })));
    await load();
  },
};

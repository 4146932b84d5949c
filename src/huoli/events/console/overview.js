// Overview: what the event log already holds, per event name and per local day of the selected range.
// Until the analytics API serves daily series, each day is one GET /admin/events/summary call.
// On top, the setup checklist (首次接入清单, the console domain's lib/checklist.js), folded once all done.
import { setupChecklist } from "/console/pages/console/lib/checklist.js";

const DAY_CONCURRENCY = 4;

async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function change(cur, prev) {
  if (!prev) return null;
  return (cur - prev) / prev;
}

export default {
  id: "overview",
  title: { zh: "概览", en: "Overview" },
  group: "overview",
  order: 10,
  async render(root, ctx) {
    const { h, clear, table, chart } = ctx.ui;
    const t = ctx.t;
    const kpis = h("div", { class: "kpis", id: "overview-kpis" });
    const chartEl = h("div", { class: "chart", id: "overview-chart", role: "img", "aria-label": t("overview.perDay") });
    const tableSlot = h("div", { id: "overview-table" });
    const status = h("p", { class: "muted", id: "overview-status" });
    const checklist = h("div", { id: "overview-checklist" });
    root.append(
      checklist,
      kpis,
      h("section", { class: "card" }, h("h2", {}, t("overview.perDay")), chartEl),
      h("section", { class: "card" }, h("h2", {}, t("overview.byName")), tableSlot),
      status,
    );

    const summary = (startIso, endIso) => ctx.api("/admin/events/summary", { query: { start: startIso, end: endIso } });
    const perDay = (range, dates) => pool(dates, DAY_CONCURRENCY, async (d) => {
      const { startIso, endIso } = range.day(d);
      const rows = await summary(startIso, endIso);
      return rows.reduce((n, r) => n + r.events, 0);
    });

    let latest = 0;
    async function load(range) {
      const mine = ++latest;
      status.textContent = t("overview.loading");
      root.dataset.loaded = "";
      const prev = range.previous;
      const [rows, daily, prevRows, prevDaily] = await Promise.all([
        summary(range.startIso, range.endIso),
        perDay(range, range.dates),
        range.compare ? summary(prev.startIso, prev.endIso) : null,
        range.compare ? perDay(range, prev.dates) : null,
      ]);
      if (mine !== latest || !ctx.isCurrent()) return;

      const total = rows.reduce((n, r) => n + r.events, 0);
      const prevTotal = prevRows ? prevRows.reduce((n, r) => n + r.events, 0) : null;
      const kpi = (label, value, ratio) => h("div", { class: "kpi" },
        h("div", { class: "label" }, t(label)),
        h("div", { class: "value" }, ctx.fmt.number(value)),
        ratio == null ? null : h("div", { class: ratio >= 0 ? "delta up" : "delta down" },
          `${ratio >= 0 ? "+" : ""}${(ratio * 100).toFixed(1)}% ${t("overview.vsPrevious")}`));
      clear(kpis).append(
        kpi("overview.events", total, prevTotal == null ? null : change(total, prevTotal)),
        kpi("overview.names", rows.length, null),
        kpi("overview.perDayAvg", Math.round(total / range.days),
          prevTotal == null ? null : change(total / range.days, prevTotal / range.days)),
      );

      const series = [{ name: t("overview.current"), type: "bar", data: daily, itemStyle: { color: "#e8590c" } }];
      if (prevDaily) {
        series.push({
          name: t("overview.previous"), type: "line", data: prevDaily, symbol: "none",
          lineStyle: { type: "dashed", color: "#656d76" }, itemStyle: { color: "#656d76" },
        });
      }
      chart(chartEl, {
        animation: false,
        tooltip: { trigger: "axis", renderMode: "richText" },
        legend: { show: !!prevDaily, top: 0, right: 16 },
        grid: { left: 56, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: range.dates },
        yAxis: { type: "value", minInterval: 1 },
        series,
      });

      const prevByName = new Map((prevRows || []).map((r) => [r.name, r.events]));
      const columns = [
        { key: "name", title: t("overview.name") },
        { key: "events", title: t("overview.events"), align: "right", format: ctx.fmt.number },
        { key: "users", title: t("overview.users"), align: "right", format: ctx.fmt.number },
      ];
      if (prevRows) {
        columns.push({ key: "previous", title: t("overview.previous"), align: "right", format: ctx.fmt.number });
        columns.push({
          key: "change", title: t("overview.change"), align: "right",
          format: (v) => (v == null ? "–" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`),
        });
      }
      columns.push({ key: "first_ts", title: t("overview.first"), format: (v) => ctx.fmt.datetime(v) });
      columns.push({ key: "last_ts", title: t("overview.last"), format: (v) => ctx.fmt.datetime(v) });
      const tableRows = rows.map((r) => ({
        ...r,
        previous: prevByName.get(r.name) ?? 0,
        change: change(r.events, prevByName.get(r.name) ?? 0),
      }));
      clear(tableSlot).append(table(columns, tableRows, { empty: t("overview.empty") }));
      status.textContent = t("overview.note", { days: range.days });
      // Lets tests (and curious operators) see which range the figures are for.
      root.dataset.loaded = `${range.start}..${range.end}${range.compare ? "+compare" : ""}`;
    }

    ctx.onRangeChange(load);
    // The checklist must never cost the figures: a server without it leaves the overview as it was.
    const listed = setupChecklist(checklist, ctx).catch((err) => console.warn("huoli setup checklist", err));
    await Promise.all([listed, load(ctx.range)]);
  },
};

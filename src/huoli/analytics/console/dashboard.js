// Dashboard: the core metrics for the shared range (and the previous one), from one batch request.

import { ensureStyles, retentionTable } from "./lib/builder.js";

const FUNNEL = ["app_show", "view_item", "add_to_cart", "order_paid"];

const pct = (v) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`);
const yuan = (fen) => (fen == null ? "–" : `¥${(fen / 100).toFixed(2)}`);
const change = (cur, prev) => (cur == null || !prev ? null : (cur - prev) / prev);

export default {
  id: "dashboard",
  title: { zh: "数据看板", en: "Dashboard" },
  group: "overview",
  order: 20,
  async render(root, ctx) {
    const { h, clear, table, chart } = ctx.ui;
    const t = ctx.t;
    ensureStyles(h); // the retention heatmap's cells
    const card = (id, title) => {
      const body = h("div", { id, class: id.endsWith("-chart") ? "chart" : null });
      root.append(h("section", { class: "card" }, h("h2", {}, t(title)), body));
      return body;
    };
    const kpis = h("div", { class: "kpis", id: "dash-kpis" });
    root.append(kpis);
    const activityEl = card("dash-activity-chart", "dash.activity");
    const channelEl = card("dash-channel-chart", "dash.newByChannel");
    const funnelEl = card("dash-funnel-chart", "dash.funnel");
    const lifecycleEl = card("dash-lifecycle-chart", "dash.lifecycle");
    const retentionEl = card("dash-retention", "dash.retentionHeatmap");
    const ratesEl = card("dash-rates", "dash.rates");
    const status = h("p", { class: "muted", id: "dash-status" });
    root.append(status);

    // One request for every figure: the server runs the parts concurrently and caches each one while the
    // app's events are unchanged (POST /admin/analytics/dashboard; the same numbers as the metric endpoints).
    let latest = 0;
    async function load(range) {
      const mine = ++latest;
      root.dataset.loaded = "";
      status.textContent = t("dash.loading");
      const t0 = performance.now();
      const res = await ctx.api("/admin/analytics/dashboard", {
        method: "POST",
        body: { start: range.start, end: range.end, compare: range.compare, funnel: FUNNEL },
      });
      const t1 = performance.now();
      const part = (name) => ({ result: res.parts[name].result, previous: res.parts[name].previous || null });
      const [act, acq, fun, life, conv, inter, ret] =
        ["activity", "acquisition", "funnel", "lifecycle", "conversion", "interaction", "retention"].map(part);
      if (mine !== latest || !ctx.isCurrent()) return;

      const series = act.result.series;
      const avg = (rows, k) => (rows.length ? rows.reduce((n, r) => n + r[k], 0) / rows.length : null);
      const total = (act.result.totals[0] || {});
      const prevSeries = act.previous ? act.previous.result.series : null;
      const prevTotal = act.previous ? act.previous.result.totals[0] || {} : null;
      const c0 = conv.result[0] || {};
      const p0 = conv.previous ? conv.previous.result[0] || {} : null;
      const kpi = (label, value, shown, prev) => h("div", { class: "kpi", dataset: { kpi: label } },
        h("div", { class: "label" }, t(label)),
        h("div", { class: "value" }, shown),
        prev == null ? null : (() => {
          const r = change(value, prev);
          return r == null ? null : h("div", { class: r >= 0 ? "delta up" : "delta down" },
            `${r >= 0 ? "+" : ""}${(r * 100).toFixed(1)}% ${t("dash.vsPrevious")}`);
        })());
      const last = series[series.length - 1] || {};
      clear(kpis).append(
        kpi("dash.dau", avg(series, "dau"), ctx.fmt.number(Math.round(avg(series, "dau") || 0)), prevSeries && avg(prevSeries, "dau")),
        kpi("dash.mau", last.mau, ctx.fmt.number(last.mau || 0), prevSeries && (prevSeries[prevSeries.length - 1] || {}).mau),
        kpi("dash.stickiness", avg(series, "stickiness"), pct(avg(series, "stickiness")), prevSeries && avg(prevSeries, "stickiness")),
        kpi("dash.newUsers", acq.result.new_users.total, ctx.fmt.number(acq.result.new_users.total),
          acq.previous && acq.previous.result.new_users.total),
        kpi("dash.opens", total.opens, ctx.fmt.number(total.opens || 0), prevTotal && prevTotal.opens),
        kpi("dash.stayPerOpen", total.stay_per_open_ms,
          total.stay_per_open_ms == null ? "–" : `${(total.stay_per_open_ms / 1000).toFixed(0)} s`, prevTotal && prevTotal.stay_per_open_ms),
        kpi("dash.bounce", total.bounce_rate, pct(total.bounce_rate), prevTotal && prevTotal.bounce_rate),
        kpi("dash.gmv", c0.gmv_fen, yuan(c0.gmv_fen), p0 && p0.gmv_fen),
      );

      const dates = series.map((r) => r.date);
      chart(activityEl, {
        animation: false, tooltip: { trigger: "axis", renderMode: "richText" }, legend: { top: 0 },
        grid: { left: 56, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: dates }, yAxis: { type: "value", minInterval: 1 },
        series: ["dau", "wau", "mau"].map((k) => ({ name: k.toUpperCase(), type: "line", symbol: "none", data: series.map((r) => r[k]) })),
      });
      const byChannel = acq.result.new_users.by_channel;
      const channels = byChannel.totals.map((r) => r.value);
      chart(channelEl, {
        animation: false, tooltip: { trigger: "axis", renderMode: "richText" }, legend: { top: 0, type: "scroll" },
        grid: { left: 56, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: byChannel.series.map((r) => r.date) }, yAxis: { type: "value", minInterval: 1 },
        series: channels.map((c) => ({ name: c, type: "bar", stack: "new", data: byChannel.series.map((r) => r[c] || 0) })),
      });
      const steps = fun.result.steps;
      chart(funnelEl, {
        animation: false, tooltip: { renderMode: "richText" },
        grid: { left: 110, right: 100, top: 8, bottom: 8 },
        xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", inverse: true, data: steps.map((s) => s.event) },
        series: [{ type: "bar", data: steps.map((s) => s.users), label: { show: true, position: "right",
          formatter: (p) => `${ctx.fmt.number(p.value)} · ${pct(steps[p.dataIndex].conversion_from_start)}` } }],
      });
      const lrows = life.result.rows;
      chart(lifecycleEl, {
        animation: false, tooltip: { trigger: "axis", renderMode: "richText" }, legend: { top: 0 },
        grid: { left: 56, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: lrows.map((r) => r.period) }, yAxis: { type: "value" },
        series: [
          ...["new", "returning", "resurrecting"].map((k) => ({ name: t(`dash.${k}`), type: "bar", stack: "s", data: lrows.map((r) => r[k]) })),
          { name: t("dash.dormant"), type: "bar", stack: "s", data: lrows.map((r) => -r.dormant) },
        ],
      });
      clear(retentionEl).append(retentionTable(ctx, ret.result, { maxRows: 14, id: "dash-retention-heatmap" }));
      const i0 = inter.result[0] || {};
      const rates = [
        ["dash.shareRate", i0.share && i0.share.rate], ["dash.favoriteRate", i0.favorite && i0.favorite.rate],
        ["dash.commentRate", i0.comment && i0.comment.rate], ["dash.cartRate", c0.add_to_cart_rate],
        ["dash.orderRate", c0.order_rate], ["dash.repurchase", c0.repurchase_rate],
        ["dash.couponRedeem", c0.coupon_redeem_rate], ["dash.promo", c0.promotion_participation_rate],
      ];
      clear(ratesEl).append(table(
        [{ key: "metric", title: t("dash.metric") }, { key: "value", title: t("dash.value"), align: "right" }],
        [...rates.map(([k, v]) => ({ metric: t(k), value: pct(v) })), { metric: t("dash.aov"), value: yuan(c0.aov_fen) }],
      ));
      status.textContent = `${t("dash.note")} ${t("dash.asOf", { time: ctx.fmt.datetime(res.as_of) })}`;
      root.dataset.loaded = `${range.start}..${range.end}${range.compare ? "+compare" : ""}`;
      // Where the time goes, for bench/console.py: the request (server + transfer) and drawing.
      performance.measure("dashboard:request", { start: t0, end: t1 });
      performance.measure("dashboard:draw", { start: t1, end: performance.now() });
    }

    ctx.onRangeChange(load);
    await load(ctx.range);
  },
};

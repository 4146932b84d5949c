// Dashboard: the core metrics for the shared range (and the previous one), from one batch request.

import { ensureStyles, periodTitle, retentionTable } from "./lib/builder.js";

const FUNNEL = ["app_show", "view_item", "add_to_cart", "order_paid"];
const PALETTE = ["#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272", "#fc8452", "#9a60b4"];

// A fall is good news for these (bounce rate, page load time, churn): drawn green, a rise red.
const LOWER_IS_BETTER = new Set(["dash.bounce", "dash.loadTime", "dash.churn"]);

const pct = (v) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`);
const change = (cur, prev) => (cur == null || !prev ? null : (cur - prev) / prev);
const sumSeries = (rows) => rows.map((r) => Object.entries(r).reduce((n, [k, v]) => (k === "date" ? n : n + (v || 0)), 0));
// Values of the previous period laid on the current period's days (the same number of days, by position).
const aligned = (prev, length) => Array.from({ length }, (_, i) => (i < prev.length ? prev[i] : null));
const DASHED = { type: "dashed" };

export default {
  id: "dashboard",
  title: { zh: "数据看板", en: "Dashboard" },
  group: "overview",
  order: 20,
  async render(root, ctx) {
    const { h, clear, table, chart } = ctx.ui;
    const t = ctx.t;
    const yuan = (fen) => (fen == null ? "–"
      : `¥${new Intl.NumberFormat(ctx.lang === "zh" ? "zh-CN" : "en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(fen / 100)}`);
    const prevName = (name) => `${name}${t("dash.previousSuffix")}`;
    // ▲/▼ says which way the figure moved; the colour says whether that is good for this metric.
    const delta = (label, diff, text, tag = "div") => {
      if (diff == null || !Number.isFinite(diff)) return null;
      const better = LOWER_IS_BETTER.has(label) ? diff < 0 : diff > 0;
      const mood = diff === 0 ? "flat" : better ? "good" : "bad";
      return h(tag, { class: `delta ${mood}`, dataset: { trend: diff > 0 ? "up" : diff < 0 ? "down" : "flat" } },
        `${diff > 0 ? "▲ +" : diff < 0 ? "▼ " : ""}${text(diff)}`);
    };
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

    // Rates change by percentage points; amounts by their relative change.
    function rowDelta(r) {
      if (r.cur == null || r.prev == null) return "–";
      if (r.kind === "rate") return delta(r.key, r.cur - r.prev, (d) => `${(d * 100).toFixed(1)} ${t("dash.pp")}`, "span") || "0";
      return delta(r.key, change(r.cur, r.prev), (d) => `${(d * 100).toFixed(1)}%`, "span") || "–";
    }

    // Mean retention per period, this period's cohorts against the previous period's, with the change.
    function retentionCompare(cur, prev) {
      const mean = (res) => (res.weighted_mean[0] ? res.weighted_mean[0].rate : []);
      const [a, b] = [mean(cur), mean(prev)];
      const rows = cur.columns.map((c, i) => ({ key: "dash.retention", period: periodTitle(cur.period, c), cur: a[i], prev: b[i] ?? null, kind: "rate" }));
      const el = table([
        { key: "period", title: t("dash.period") },
        { key: "cur", title: t("dash.current"), align: "right", format: pct },
        { key: "prev", title: t("dash.previous"), align: "right", format: pct },
        { key: "delta", title: "Δ", align: "right", format: (_, r) => rowDelta(r) },
      ], rows, { caption: "dash.retentionCompare" });
      el.id = "dash-retention-compare";
      return el;
    }

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
      if (mine !== latest || !ctx.isCurrent()) return;
      draw(res, null);
      // Where the time goes, for bench/console.py: the request (server + transfer) and drawing.
      performance.measure("dashboard:request", { start: t0, end: t1 });
      performance.measure("dashboard:draw", { start: t1, end: performance.now() });
      if (range.compare) {
        // The batch leaves out the previous period of lifecycle, retention and interaction; the previous
        // range's own batch has them. Asked after the first, so the parts both share come from its cache.
        status.textContent = t("dash.loadingPrevious");
        const extra = await ctx.api("/admin/analytics/dashboard", {
          method: "POST",
          body: { start: range.previous.start, end: range.previous.end, compare: false, funnel: FUNNEL },
        });
        if (mine !== latest || !ctx.isCurrent()) return;
        draw(res, extra);
      }
      status.textContent = `${t("dash.note")} ${t("dash.asOf", { time: ctx.fmt.datetime(res.as_of) })}`;
      root.dataset.loaded = `${range.start}..${range.end}${range.compare ? "+compare" : ""}`;
    }

    // Draws every card from the batch `res`; `extra` (the previous range's batch) fills the previous period
    // of the parts `res` has none for.
    function draw(res, extra) {
      const part = (name) => ({
        result: res.parts[name].result,
        previous: res.parts[name].previous || (extra ? { result: extra.parts[name].result } : null),
      });
      const [act, acq, fun, life, conv, inter, ret] =
        ["activity", "acquisition", "funnel", "lifecycle", "conversion", "interaction", "retention"].map(part);

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
        prev == null ? null : delta(label, change(value, prev), (r) => `${(r * 100).toFixed(1)}% ${t("dash.vsPrevious")}`));
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
        series: [
          ...["dau", "wau", "mau"].map((k) => ({ name: k.toUpperCase(), type: "line", symbol: "none", data: series.map((r) => r[k]) })),
          // the previous period, dashed, in the same colours (one series per figure, by position)
          ...(prevSeries ? ["dau", "wau", "mau"].map((k, i) => ({
            name: prevName(k.toUpperCase()), type: "line", symbol: "none", lineStyle: DASHED, color: PALETTE[i],
            data: aligned(prevSeries.map((r) => r[k]), series.length) })) : []),
        ],
        color: PALETTE,
      });
      const byChannel = acq.result.new_users.by_channel;
      const channels = byChannel.totals.map((r) => r.value);
      chart(channelEl, {
        animation: false, tooltip: { trigger: "axis", renderMode: "richText" }, legend: { top: 0, type: "scroll" },
        grid: { left: 56, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: byChannel.series.map((r) => r.date) }, yAxis: { type: "value", minInterval: 1 },
        series: [
          ...channels.map((c) => ({ name: c, type: "bar", stack: "new", data: byChannel.series.map((r) => r[c] || 0) })),
          ...(acq.previous ? [{ name: prevName(t("dash.allChannels")), type: "line", symbol: "none", lineStyle: DASHED, color: "#57606a",
            data: aligned(sumSeries(acq.previous.result.new_users.by_channel.series), byChannel.series.length) }] : []),
        ],
      });
      const steps = fun.result.steps;
      const prevSteps = fun.previous ? fun.previous.result.steps : null;
      chart(funnelEl, {
        animation: false, tooltip: { renderMode: "richText" }, legend: prevSteps ? { top: 0 } : undefined,
        grid: { left: 110, right: 100, top: prevSteps ? 28 : 8, bottom: 8 },
        xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", inverse: true, data: steps.map((s) => s.event) },
        series: [
          { name: t("dash.current"), type: "bar", color: PALETTE[0], data: steps.map((s) => s.users), label: { show: true, position: "right",
            formatter: (p) => `${ctx.fmt.number(p.value)} · ${pct(steps[p.dataIndex].conversion_from_start)}` } },
          // the previous period as an outlined, dashed bar under each step
          ...(prevSteps ? [{ name: t("dash.previous"), type: "bar", data: prevSteps.map((s) => s.users), color: "#8c959f",
            itemStyle: { color: "rgba(140, 149, 159, 0.12)", borderColor: "#8c959f", borderType: "dashed", borderWidth: 1.5 },
            label: { show: true, position: "right", color: "#57606a",
              formatter: (p) => `${ctx.fmt.number(p.value)} · ${pct(prevSteps[p.dataIndex].conversion_from_start)}` } }] : []),
        ],
      });
      const lrows = life.result.rows;
      chart(lifecycleEl, {
        animation: false, tooltip: { trigger: "axis", renderMode: "richText" }, legend: { top: 0 },
        grid: { left: 56, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: lrows.map((r) => r.period) }, yAxis: { type: "value" },
        series: [
          ...["new", "returning", "resurrecting"].map((k) => ({ name: t(`dash.${k}`), type: "bar", stack: "s", data: lrows.map((r) => r[k]) })),
          { name: t("dash.dormant"), type: "bar", stack: "s", data: lrows.map((r) => -r.dormant) },
          // the previous period's active users (new + returning + resurrecting), dashed
          ...(life.previous ? [{ name: prevName(t("dash.active")), type: "line", symbol: "none", lineStyle: DASHED, color: "#57606a",
            data: aligned(life.previous.result.rows.map((r) => r.new + r.returning + r.resurrecting), lrows.length) }] : []),
        ],
      });
      clear(retentionEl).append(retentionTable(ctx, ret.result, { maxRows: 14, id: "dash-retention-heatmap" }));
      if (ret.previous) retentionEl.append(retentionCompare(ret.result, ret.previous.result));
      const rateRows = (c, i) => [
        ["dash.shareRate", i.share && i.share.rate], ["dash.favoriteRate", i.favorite && i.favorite.rate],
        ["dash.commentRate", i.comment && i.comment.rate], ["dash.cartRate", c.add_to_cart_rate],
        ["dash.orderRate", c.order_rate], ["dash.repurchase", c.repurchase_rate],
        ["dash.couponRedeem", c.coupon_redeem_rate], ["dash.promo", c.promotion_participation_rate],
      ];
      const i0 = inter.result[0] || {};
      const ip = inter.previous ? inter.previous.result[0] || {} : null;
      const rows = rateRows(c0, i0).map(([k, v], n) => ({ key: k, metric: t(k), value: pct(v), cur: v, prev: p0 && ip ? rateRows(p0, ip)[n][1] : null, kind: "rate" }));
      rows.push({ key: "dash.aov", metric: t("dash.aov"), value: yuan(c0.aov_fen), cur: c0.aov_fen, prev: p0 ? p0.aov_fen : null, kind: "money" });
      const compare = Boolean(conv.previous);
      clear(ratesEl).append(table([
        { key: "metric", title: t("dash.metric") },
        { key: "value", title: t("dash.value"), align: "right" },
        ...(compare ? [
          { key: "prev", title: t("dash.previous"), align: "right", format: (v, r) => (r.kind === "money" ? yuan(v) : pct(v)) },
          { key: "delta", title: "Δ", align: "right", format: (_, r) => rowDelta(r) },
        ] : []),
      ], rows));
    }

    ctx.onRangeChange(load);
    await load(ctx.range);
  },
};

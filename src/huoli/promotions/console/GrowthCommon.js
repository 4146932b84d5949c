import { watch } from "vue";

// What the 砍价, 邀请有礼 and 分销 pages share: the live figures every activity row carries (contract C1), the
// state filter, the time window in the app's timezone, and the defaults a new activity starts from.

// The states an activity goes through (C1), in the order the filter offers them.
export const STATES = ["scheduled", "running", "paused", "ended"];

// The live figures of an activity row (C1 `figures`), as list columns. `money` fen → 元; stock only when
// the activity holds stock (null otherwise).
export function figureColumns(f, { stock = false } = {}) {
  const fig = (key) => (_, r) => r.figures?.[key];
  const cols = [
    { key: "fig_participants", title: "growth.fig.participants", align: "right", minWidth: 90, format: (_, r) => f.n(fig("participants")(_, r)) },
    { key: "fig_orders", title: "growth.fig.orders", align: "right", minWidth: 80, format: (_, r) => f.n(fig("orders")(_, r)) },
    { key: "fig_gmv", title: "growth.fig.gmv", align: "right", minWidth: 110, format: (_, r) => f.money(fig("gmv_fen")(_, r) ?? 0) },
    { key: "fig_new_users", title: "growth.fig.newUsers", align: "right", minWidth: 110, format: (_, r) => f.n(fig("new_users_shared")(_, r)) },
    { key: "fig_refunds", title: "growth.fig.refunds", align: "right", minWidth: 80, format: (_, r) => f.n(fig("refunds")(_, r)) },
  ];
  if (stock) {
    cols.push({ key: "fig_stock", title: "growth.fig.stock", align: "right", minWidth: 90,
      format: (_, r) => (r.figures?.stock_left == null ? "—" : f.n(r.figures.stock_left)) });
  }
  return cols;
}

// Totals over the rows shown, for the headline cards.
export function totals(rows) {
  const out = { participants: 0, orders: 0, gmv_fen: 0, new_users_shared: 0, refunds: 0, running: 0 };
  for (const r of rows || []) {
    for (const k of ["participants", "orders", "gmv_fen", "new_users_shared", "refunds"]) out[k] += r.figures?.[k] ?? 0;
    if (r.state === "running") out.running += 1;
  }
  return out;
}

// "12-07 10:00 – 12-14 10:00" in the app's timezone; an open end says so.
export function windowText(t, f, row) {
  const from = row.starts_at ? f.when(row.starts_at) : t("growth.window.now");
  const until = row.ends_at ? f.when(row.ends_at) : t("growth.window.open");
  return `${from} – ${until}`;
}

// Counts per state of the rows, for the filter's tabs.
export function stateCounts(rows) {
  const out = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const r of rows || []) if (r.state in out) out[r.state] += 1;
  return out;
}

// A new activity's id: the prefix and the minute it was opened (the operator may change it).
export function defaultId(prefix) {
  const d = new Date();
  const p = (n) => String(n).padStart(2, "0");
  return `${prefix}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

// An instant `days` from now on the hour (ISO, UTC): DateTimePicker shows it in the app's timezone.
export function daysFromNow(days) {
  const d = new Date(Date.now() + days * 86400_000);
  d.setUTCMinutes(0, 0, 0);
  return d.toISOString();
}

// The link to an activity's results page (the marketing domain's activity-results).
export const resultsHref = (kind, id) => `#/activity-results?kind=${encodeURIComponent(kind)}&id=${encodeURIComponent(id)}`;

// A field's error goes once the operator changes that field; the form's top line with it when none is left.
// `fields`: {field name: getter of what the operator edits}.
export function clearOnEdit(form, fields) {
  for (const [field, get] of Object.entries(fields)) {
    watch(get, () => {
      if (!form.errors[field]) return;
      delete form.errors[field];
      if (!Object.keys(form.errors).length) form.top.value = "";
    });
  }
}

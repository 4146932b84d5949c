// Shared by the ad-hoc builders (retention, funnel, paths) and the dashboard's heatmap: the spec in the URL,
// the pickers' vocabulary, labels for the API's placeholders, and which input a 422 detail is about.

// The builder's spec travels in the hash query as JSON (`#/funnel?start=…&q={…}`), so a link reproduces it.
export function specFromParams(params, defaults) {
  if (!params.q) return null;
  try {
    const spec = JSON.parse(params.q);
    return spec && typeof spec === "object" && !Array.isArray(spec) ? { ...structuredClone(defaults), ...spec } : null;
  } catch {
    return null;
  }
}

// One request per app and console session: the pickers do not need fresher names than that.
const vocabularies = new Map();
export function vocabulary(ctx) {
  const key = ctx.app?.id;
  if (!vocabularies.has(key)) {
    const p = ctx.api("/admin/analytics/vocabulary").catch((err) => {
      vocabularies.delete(key);
      throw err;
    });
    vocabularies.set(key, p);
  }
  return vocabularies.get(key);
}

// pydantic says `steps.0.event`, the metric checks say `steps[0].event`: inputs are named the first way.
export function normalField(field) {
  return String(field || "").replace(/\[(\d+)\]/g, ".$1");
}

// Whole-request validators report no field ("(body)"); these messages name the input they are about.
const BODY_FIELDS = [
  [/^exclusion between steps/, (has) => (has("exclusions.0.from_step") ? "exclusions.0.from_step" : null)],
  [/^attribution 'step' needs/, () => "attribution_step"],
  [/^dropoff_step must be/, () => "dropoff_step"],
  [/^rolling_24h works with/, () => "day_model"],
  [/^bracket \(/, () => "brackets"],
  [/needs an ordered funnel/, () => "order"],
  [/steps: at most/, () => "steps"],
];

// The API's 422 details named as the form names its inputs (`known`: the fields the form has now; a detail
// about a part of one, or a whole of which the form has parts, goes to that input), in the operator's words.
export function placeErrors(err, known, t) {
  const has = (f) => known.includes(f);
  err.details = (err?.details || []).map((d) => {
    let field = normalField(d.field);
    if (!field || field === "(body)") {
      const hit = BODY_FIELDS.find(([re]) => re.test(String(d.message || "").replace(/^Value error, /, "")));
      field = (hit && hit[1](has)) || field;
    }
    if (field && !has(field)) {
      field = known.find((k) => field.startsWith(`${k}.`)) || known.find((k) => k.startsWith(`${field}.`)) || field;
    }
    return { ...d, field, message: apiText(t, d.message) };
  });
  return err;
}

export function runMetric(ctx, metric, body) {
  const range = ctx.range;
  return ctx.api(`/admin/analytics/${metric}`, { method: "POST", body: { start: range.start, end: range.end, ...body } });
}

// Column heads: D0 / W1 / M2 (the WeChat convention operators know), a bracket "8-14" as it is.
export function periodTitle(period, col) {
  if (/^\d+-\d+$/.test(col)) return col;
  return `${{ day: "D", week: "W", month: "M" }[period] || ""}${col}`;
}

// The API's placeholders for "no breakdown" and "no value" in the operator's words.
export function breakdownLabel(t, value) {
  if (value === "(all)") return t("b.all");
  if (value === "(none)") return t("b.noValue");
  return value;
}

// The analytics API's own messages (frame.py, metrics/*.py) in the operator's words; they carry names and
// numbers, so they are matched by pattern rather than looked up as "api:<message>".
const API_TEXT = [
  [/^unknown event '(.+)': not in the catalog/, (m) => ["err.unknownEvent", { name: m[1] }]],
  [/^unknown property '(.+)': no event of this app/, (m) => ["err.unknownProperty", { name: m[1] }]],
  [/^unknown user property '(.+?)'/, (m) => ["err.unknownUserProperty", { name: m[1] }]],
  [/^bad property name '(.+)'/, (m) => ["err.badProperty", { name: m[1] }]],
  [/^(.+) is a number: compare it with numbers/, (m) => ["err.numberField", { name: m[1] }]],
  [/^op '(\w+)' needs a list/, (m) => ["err.needsList", { op: m[1] }]],
  [/^op '(\w+)' needs a value/, (m) => ["err.needsValue", { op: m[1] }]],
  [/^op '(\w+)' needs a string/, (m) => ["err.needsScalar", { op: m[1] }]],
  [/^exclusion between steps (\d+) and (\d+): need .* <= (\d+)$/, (m) => ["err.exclusion", { from: m[1], to: m[2], n: m[3] }]],
  [/^attribution 'step' needs attribution_step in 1\.\.(\d+)/, (m) => ["err.attributionStep", { n: m[1] }]],
  [/^dropoff_step must be in 1\.\.(\d+)/, (m) => ["err.dropoffStep", { n: m[1] }]],
  [/^exclusions need an ordered funnel/, () => ["err.exclusionsOrdered", {}]],
  [/^(\d+) steps: at most (\d+) are supported/, (m) => ["err.tooManySteps", { n: m[1], max: m[2] }]],
  [/^rolling_24h works with day or week/, () => ["err.rollingMonth", {}]],
  [/^bracket \((\d+), (\d+)\) must satisfy .* <= (\d+)$/, (m) => ["err.bracket", { from: m[1], to: m[2], max: m[3] }]],
];

export function apiText(t, message) {
  const text = String(message ?? "").replace(/^Value error, /, "");
  for (const [re, fn] of API_TEXT) {
    const m = text.match(re);
    if (m) {
      const [key, vars] = fn(m);
      return t(key, vars);
    }
  }
  return text;
}

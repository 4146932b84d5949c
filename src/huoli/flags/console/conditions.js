// Targeting conditions (GrowthBook's condition language, docs/experiments.md) as rows an operator fills in:
// attribute, operator, value; all rows must match, or any of them. parse() reads a stored condition into
// rows (null when it uses something the rows cannot say: the editor then shows it as checked JSON);
// build() writes rows back.

// The operators the rows offer; `kind` is what the value is: a scalar, a list, nothing, a version text.
export const OPS = [
  { op: "eq", kind: "scalar", label: { zh: "等于", en: "equals" } },
  { op: "ne", kind: "scalar", label: { zh: "不等于", en: "does not equal" } },
  { op: "in", kind: "list", label: { zh: "是其中之一", en: "is one of" } },
  { op: "nin", kind: "list", label: { zh: "不是其中任何一个", en: "is none of" } },
  { op: "gt", kind: "scalar", label: { zh: "大于", en: "greater than" } },
  { op: "gte", kind: "scalar", label: { zh: "大于等于", en: "at least" } },
  { op: "lt", kind: "scalar", label: { zh: "小于", en: "less than" } },
  { op: "lte", kind: "scalar", label: { zh: "小于等于", en: "at most" } },
  { op: "exists", kind: "none", label: { zh: "有值", en: "is set" } },
  { op: "missing", kind: "none", label: { zh: "没有值", en: "is not set" } },
  { op: "regex", kind: "text", label: { zh: "匹配正则表达式", en: "matches regex" } },
  { op: "vgt", kind: "text", label: { zh: "版本高于", en: "version above" } },
  { op: "vgte", kind: "text", label: { zh: "版本不低于", en: "version at least" } },
  { op: "vlt", kind: "text", label: { zh: "版本低于", en: "version below" } },
  { op: "vlte", kind: "text", label: { zh: "版本不高于", en: "version at most" } },
];
const BY_OP = Object.fromEntries(OPS.map((o) => [o.op, o]));

// What a scalar or list value is: text, a number, or yes / no.
export const VALUE_TYPES = [
  { type: "string", label: { zh: "文本", en: "text" } },
  { type: "number", label: { zh: "数字", en: "number" } },
  { type: "bool", label: { zh: "是 / 否", en: "yes / no" } },
];

// Attributes every evaluation has (huoli's own and the user's preferences); callers send others.
export const KNOWN_ATTRIBUTES = [
  { value: "id", label: { zh: "用户 ID，未登录时为匿名 ID", en: "user id, else anonymous id" } },
  { value: "user_id", label: { zh: "登录用户 ID", en: "logged-in user id" } },
  { value: "anonymous_id", label: { zh: "匿名 ID", en: "anonymous id" } },
  { value: "logged_in", label: { zh: "是否已登录", en: "logged in" } },
  { value: "font_size", label: { zh: "字号偏好", en: "font size preference" } },
  { value: "units", label: { zh: "单位偏好", en: "units preference" } },
  { value: "theme", label: { zh: "主题偏好", en: "theme preference" } },
];

export const LIST_SPLIT = /[,，、\n]/;

const typeOf = (v) => (typeof v === "boolean" ? "bool" : typeof v === "number" ? "number" : "string");
const scalar = (v) => v === null || ["string", "number", "boolean"].includes(typeof v);

export function row(attr = "", op = "eq", type = "string", value = "") {
  return { attr, op, type, value };
}

function rowsOf(attr, cond) {
  if (attr.startsWith("$")) return null;
  if (scalar(cond) && cond !== null) return [row(attr, "eq", typeOf(cond), cond)];
  if (!cond || typeof cond !== "object" || Array.isArray(cond)) return null;
  const out = [];
  for (const [k, v] of Object.entries(cond)) {
    const op = k.replace(/^\$/, "");
    if (!k.startsWith("$") || !BY_OP[op] || op === "missing") return null;
    const kind = BY_OP[op].kind;
    if (op === "exists") {
      if (typeof v !== "boolean") return null;
      out.push(row(attr, v ? "exists" : "missing"));
    } else if (kind === "list") {
      if (!Array.isArray(v) || !v.every((x) => scalar(x) && x !== null)) return null;
      const types = new Set(v.map(typeOf));
      if (types.size > 1 || types.has("bool")) return null;
      out.push(row(attr, op, v.length ? typeOf(v[0]) : "string", v.join(", ")));
    } else if (kind === "text") {
      if (typeof v !== "string") return null;
      out.push(row(attr, op, "string", v));
    } else {
      if (!scalar(v) || v === null) return null;
      out.push(row(attr, op, typeOf(v), v));
    }
  }
  return out.length ? out : null;
}

// {mode: "all" | "any", rows} or null when the condition needs more than rows can say.
export function parse(condition) {
  const c = condition || {};
  const keys = Object.keys(c);
  if (!keys.length) return { mode: "all", rows: [] };
  if (keys.length === 1 && (keys[0] === "$and" || keys[0] === "$or") && Array.isArray(c[keys[0]])) {
    const rows = [];
    for (const part of c[keys[0]]) {
      if (!part || typeof part !== "object" || Array.isArray(part) || Object.keys(part).length !== 1) return null;
      const [attr, cond] = Object.entries(part)[0];
      const got = rowsOf(attr, cond);
      if (!got || (keys[0] === "$or" && got.length !== 1)) return null;
      rows.push(...got);
    }
    return { mode: keys[0] === "$or" ? "any" : "all", rows };
  }
  const rows = [];
  for (const [attr, cond] of Object.entries(c)) {
    const got = rowsOf(attr, cond);
    if (!got) return null;
    rows.push(...got);
  }
  return { mode: "all", rows };
}

// A row's value as JSON, or {error} (a message) when it is not one.
function valueOf(r) {
  const kind = BY_OP[r.op]?.kind;
  const one = (x) => {
    if (r.type === "number") {
      const s = String(x).trim();
      if (s === "" || Number.isNaN(Number(s))) return { error: "cond.needNumber" };
      return { value: Number(s) };
    }
    if (r.type === "bool") return { value: x === true || x === "true" };
    return { value: String(x ?? "") };
  };
  if (kind === "none") return { value: r.op === "exists" };
  if (kind === "text") return String(r.value ?? "").trim() ? { value: String(r.value).trim() } : { error: "cond.needValue" };
  if (kind === "list") {
    const parts = String(r.value ?? "").split(LIST_SPLIT).map((s) => s.trim()).filter(Boolean);
    if (!parts.length) return { error: "cond.needValue" };
    const out = [];
    for (const p of parts) {
      const v = one(p);
      if (v.error) return v;
      out.push(v.value);
    }
    return { value: out };
  }
  return one(r.value);
}

// The condition the rows say, or {errors: {index: messageKey}} for rows that are not complete.
export function build({ mode, rows }) {
  const errors = {};
  const parts = [];
  rows.forEach((r, i) => {
    const attr = String(r.attr ?? "").trim();
    if (!attr) {
      errors[i] = "cond.needAttr";
      return;
    }
    const v = valueOf(r);
    if (v.error) {
      errors[i] = v.error;
      return;
    }
    const op = r.op === "missing" ? "exists" : r.op;
    parts.push([attr, op === "eq" ? v.value : { [`$${op}`]: v.value }]);
  });
  if (Object.keys(errors).length) return { errors };
  if (!parts.length) return { condition: {} };
  if (mode === "any" && parts.length > 1) return { condition: { $or: parts.map(([a, c]) => ({ [a]: c })) } };
  const attrs = new Set(parts.map(([a]) => a));
  if (attrs.size === parts.length) return { condition: Object.fromEntries(parts) };
  return { condition: { $and: parts.map(([a, c]) => ({ [a]: c })) } };
}

export const COND_MESSAGES = {
  "cond.needAttr": { zh: "请填写属性名", en: "Enter an attribute" },
  "cond.needValue": { zh: "请填写取值", en: "Enter a value" },
  "cond.needNumber": { zh: "应为数字（多个用逗号分隔）", en: "Expected a number (several: separated by commas)" },
  "cond.badJson": { zh: "不是有效的 JSON 对象", en: "Not a valid JSON object" },
};

// A flag value as the form holds it (by the flag's type) and back: bool a switch, string text, number a
// number input, json a checked code box (the only free-form structure: any JSON value a mini-program reads).

export const TYPES = ["bool", "string", "number", "json"];

export const TYPE_LABEL = {
  bool: { zh: "开关（是 / 否）", en: "On / off" },
  string: { zh: "文本", en: "Text" },
  number: { zh: "数字", en: "Number" },
  json: { zh: "结构化数据（JSON）", en: "Structured (JSON)" },
};

export function blank(type) {
  return { bool: false, string: "", number: 0, json: "{}" }[type] ?? "";
}

export function toEditor(type, value) {
  if (type === "bool") return value === true;
  if (type === "string") return value == null ? "" : String(value);
  if (type === "number") return typeof value === "number" ? value : null;
  return JSON.stringify(value ?? {}, null, 2);
}

// {value} when the editor's content is a value of the type, else {error} (a message key).
export function fromEditor(type, v) {
  if (type === "bool") return { value: v === true };
  if (type === "string") return { value: v ?? "" };
  if (type === "number") return v === null || v === undefined || v === "" ? { error: "value.needNumber" } : { value: Number(v) };
  try {
    return { value: JSON.parse(v) };
  } catch {
    return { error: "value.badJson" };
  }
}

// How a stored value reads in a list: 开 / 关, text, number, compact JSON.
export function show(type, value, t) {
  if (type === "bool" || typeof value === "boolean") return t(value ? { zh: "开", en: "On" } : { zh: "关", en: "Off" });
  if (type === "string") return value === "" ? t({ zh: "（空文本）", en: "(empty text)" }) : String(value);
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export const VALUE_MESSAGES = {
  "value.needNumber": { zh: "请填写数字", en: "Enter a number" },
  "value.badJson": { zh: "不是有效的 JSON（检查引号、逗号和括号）", en: "Not valid JSON (check quotes, commas and brackets)" },
};

// The API's own messages that carry names or numbers ("duplicate rule id 'vip'") cannot be exact
// "api:<message>" keys in i18n.json: a page passes apiText(ctx, table) to useForm() as its t, and a
// message matching one of the table's patterns reads in Chinese.

export function apiText(ctx, table) {
  return (x, vars) => {
    if (typeof x === "string" && x.startsWith("api:") && ctx.lang === "zh") {
      const text = x.slice(4);
      for (const [re, fn] of table) {
        const m = text.match(re);
        if (m) return fn(...m.slice(1));
      }
    }
    return ctx.t(x, vars);
  };
}

// Pydantic names a list item "rules.0.id"; huoli's own checks "rules[0].id": fields read one way here.
export function bracketed(field) {
  return String(field ?? "").replace(/\.(\d+)(?=\.|$)/g, "[$1]");
}

// Runs fn; an API error's field names are rewritten by `rename` (after bracketed()) before the form sees them.
export async function renamingFields(fn, rename = (f) => f) {
  try {
    return await fn();
  } catch (err) {
    if (Array.isArray(err?.details)) err.details = err.details.map((d) => ({ ...d, field: rename(bracketed(d.field)) }));
    throw err;
  }
}

// An error's message in the operator's language: the table's patterns first, then the console's own.
export function sayError(ctx, t, err) {
  const text = String(err?.message ?? err ?? "").replace(/^Value error, /, "");
  const own = t(`api:${text}`);
  return own !== `api:${text}` ? own : ctx.message(err);
}

// Messages every JSON value may get (schema_types.check_json_numbers).
export const JSON_MESSAGES = [
  [/^(?:Value error, )?integer (-?\d+) is out of range \(±(\d+)\)$/, (n, lim) => `整数 ${n} 超出范围（最大 ±${lim}）`],
  [/^(?:Value error, )?(.+) is not a number JSON can carry$/, (v) => `${v} 不是可保存的数字`],
];

export const FLAG_MESSAGES = [
  [/^expected true or false$/, () => "应为 开 / 关"],
  [/^expected a string$/, () => "应为文本"],
  [/^expected a number$/, () => "应为数字"],
  [/^duplicate rule id '(.+)'$/, (id) => `规则标识 ${id} 重复：每条规则的标识须唯一`],
  [/^unknown operator (.+)$/, (op) => `不支持的运算 ${op}`],
  [/^expected a list of conditions$/, () => "应为条件列表"],
  [/^String should match pattern '\^\[A-Za-z0-9_\.-\]\{1,64\}\$'$/, () => "1–64 个字符：字母、数字、_ . -（不含空格）"],
  [/^String should match pattern '\^\[a-z\]\[a-z0-9_\.-\]\{0,63\}\$'$/, () => "小写字母开头，之后为小写字母、数字、_ . -，最多 64 个字符"],
  [/^flag '(.+)' already exists$/, (k) => `开关 ${k} 已存在，请换一个标识`],
  [/^unknown flag '(.+)'$/, (k) => `没有开关 ${k}`],
  [/^flag '(.+)' has running experiments \((.+)\); stop them first$/, (k, e) => `开关 ${k} 正被运行中的实验（${e}）使用：请先停止实验`],
  ...JSON_MESSAGES,
];

// The API's validation messages are English (pydantic); the common ones read better in Chinese.
const ZH_MESSAGES = [
  [/^String should have at least (\d+) characters?$/, (n) => `至少需要 ${n} 个字符`],
  [/^String should have at most (\d+) characters?$/, (n) => `最多 ${n} 个字符`],
  [/^Field required$/, () => "必填"],
  [/^Input should be greater than or equal to (.+)$/, (n) => `应不小于 ${n}`],
  [/^Input should be greater than (.+)$/, (n) => `应大于 ${n}`],
  [/^Input should be less than or equal to (.+)$/, (n) => `应不大于 ${n}`],
  [/^Input should be less than (.+)$/, (n) => `应小于 ${n}`],
  [/^Input should be a valid integer/, () => "应为整数"],
  [/^Input should be a valid number/, () => "应为数字"],
  [/^Input should be a valid date/, () => "日期格式不正确"],
  [/^Input should be a valid datetime/, () => "日期时间格式不正确"],
  [/^Input should be a valid boolean/, () => "应为是或否"],
  [/^List should have at least (\d+) items?/, (n) => `至少需要 ${n} 项`],
  [/^List should have at most (\d+) items?/, (n) => `最多 ${n} 项`],
  [/^Extra inputs are not permitted$/, () => "不支持这个字段"],
  [/^Input should be a valid (\w+)/, (v) => `格式不正确（应为 ${v}）`],
  [/^Input should be (.+)$/, (v) => `取值应为 ${v}`],
  [/^String should match pattern '(.+)'$/, (p) => `格式不正确（应匹配 ${p}）`],
  // apps/schemas.py's own messages (setup: app id, AppID, AppSecret, rotation)
  [/^a WeChat AppID is 'wx' followed by 16 hex digits/, () => "AppID 应为 wx 加 16 位十六进制字符（0-9、a-f），例如 wx0123456789abcdef"],
  [/^2–64 characters: a lowercase letter/, () => "2–64 个字符：小写字母开头，之后为小写字母、数字、- 或 _"],
  [/^a name is needed$/, () => "请填写名称"],
  [/^unknown IANA timezone/, () => "未知的时区（应为 IANA 名称，如 Asia/Shanghai）"],
  [/^the AppSecret has no spaces/, () => "AppSecret 中不应有空格：请从 mp.weixin.qq.com 重新复制"],
  [/^this AppID already belongs to another app/, () => "这个 AppID 已属于本服务上的另一个应用"],
  [/^app '(.+)' already exists/, (id) => `应用 ${id} 已存在，请换一个 ID`],
  [/^type the app id \((.+)\) to confirm$/, (id) => `请输入应用 ID（${id}）以确认`],
];

// Domains add their own API messages in their i18n.json as "api:<English message>" (see translator()).
export function localMessage(lang, message, t) {
  let text = String(message ?? "");
  // pydantic prefixes a validator's own message; the operator needs only the message.
  text = text.replace(/^Value error, /, "");
  if (t) {
    const own = t(`api:${text}`);
    if (own !== `api:${text}`) return own;
  }
  if (lang !== "zh") return text;
  for (const [re, fn] of ZH_MESSAGES) {
    const m = text.match(re);
    if (m) return fn(m[1]);
  }
  return text;
}

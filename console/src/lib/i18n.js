// Translations: vue-i18n holds the language and every message — the shell's own (below) and each domain's
// src/huoli/<domain>/console/i18n.json under the domain's name. Pages call t(key) or t({zh, en}).
import { createI18n } from "vue-i18n";

export const LANGS = ["zh", "en"];

export const SHELL = {
  zh: {
    retry: "重试",
    "nav.open": "打开菜单",
    "range.to": "至",
    "state.loading": "加载中…",
    "table.csv": "导出 CSV",
    "table.prev": "上一页",
    "table.next": "下一页",
    "table.page": "第 {n} 页",
    "form.save": "保存",
    "confirm.title": "请确认",
    "confirm.ok": "确定",
    "confirm.cancel": "取消",
    "picker.datetime": "选择日期时间",
    "picker.time": "选择时间",
    "picker.search": "输入搜索",
    "unit.yuan": "元",
    "staff.lead": "使用员工账号登录，或在下方使用 API 密钥。",
    "staff.username": "用户名",
    "staff.password": "密码",
    "staff.totp": "验证码（身份验证器）",
    "staff.invalid": "用户名或密码错误。",
    "staff.totpNeeded": "请输入身份验证器中的 6 位验证码。",
    "staff.totpWrong": "验证码错误或已使用。",
    "staff.locked": "失败次数过多，请在 {s} 秒后重试。",
    "staff.noApps": "此账号还不属于任何应用。",
    brand: "活力 huoli 控制台",
    "signin.title": "登录控制台",
    "signin.lead": "使用运营 API 密钥登录（由应用的所有者在「API 密钥」页创建，或运行 huoli keys create）。密钥只保存在本浏览器。",
    "firstrun.title": "首次使用：创建第一个应用",
    "firstrun.lead": "这台服务器上还没有任何应用。你在服务器本机（127.0.0.1）访问，可以直接创建第一个应用并获得它的所有者密钥。应用创建后，这里不再开放；之后新建应用需要所有者密钥。",
    "firstrun.id": "应用 ID",
    "firstrun.idHint": "小写字母开头，用于接口和事件，如 my-shop；创建后不能修改",
    "firstrun.name": "应用名称",
    "firstrun.timezone": "时区",
    "firstrun.tzHint": "按这个时区划分自然日（报表、签到）；默认 Asia/Shanghai",
    "firstrun.submit": "创建应用",
    "firstrun.created": "应用「{name}」已创建。这是它的所有者密钥，只显示这一次——请复制并妥善保存（可以用它创建其他密钥）：",
    "firstrun.keyNote": "密钥已保存在本浏览器，用于登录控制台。丢失后可以用命令 huoli keys create 重新创建。",
    "firstrun.continue": "进入控制台",
    "firstrun.remote": "首次创建应用只能在服务器本机进行。",
    "copy": "复制",
    "copy.done": "已复制",
    "copy.select": "已选中，请按 Ctrl+C 复制",
    "signin.key": "运营 API 密钥",
    "signin.submit": "登录",
    "signin.cancel": "取消",
    "signin.checking": "正在验证…",
    "signin.empty": "请输入 API 密钥。",
    "signin.invalid": "密钥无效或已被吊销，请检查后重试。",
    "signin.expired": "当前密钥已失效，请重新登录。",
    "signin.network": "无法连接到 huoli 服务。",
    "app.switch": "切换应用",
    "app.add": "＋ 添加应用（另一个密钥）",
    "app.new": "＋ 新建应用",
    "app.signout": "退出当前应用",
    lang: "English",
    "lang.label": "切换语言",
    "range.label": "日期范围",
    "range.start": "开始",
    "range.end": "结束",
    "range.apply": "应用",
    "range.compare": "与上一周期对比",
    "range.days": "近 {n} 天",
    "range.invalid": "开始日期需早于结束日期，且范围不超过 366 天。",
    "range.tz": "时区",
    "vendor.missing": "图表库 ECharts 未安装：请在项目目录运行 make install（需要能访问 npm 仓库）。其余功能可正常使用。",
    "chart.missing": "图表需要先运行 make install",
    "page.notfound": "没有这个页面。",
    "page.none": "还没有任何页面。",
    "page.failed": "页面加载失败",
    "page.forbidden": "当前密钥的角色无权查看此内容。",
    "module.failed": "有页面模块加载失败：",
    "table.empty": "没有数据",
    "form.error": "请修正标出的字段。",
    "group.overview": "概览",
    "group.events": "数据",
    "group.analytics": "分析",
    "group.diagnosis": "诊断",
    "group.marketing": "营销中心",
    "group.engage": "会员运营",
    "group.experiment": "实验",
    "group.settings": "设置",
  },
  en: {
    retry: "Retry",
    "nav.open": "Open menu",
    "range.to": "to",
    "state.loading": "Loading…",
    "table.csv": "Export CSV",
    "table.prev": "Previous",
    "table.next": "Next",
    "table.page": "Page {n}",
    "form.save": "Save",
    "confirm.title": "Please confirm",
    "confirm.ok": "Confirm",
    "confirm.cancel": "Cancel",
    "picker.datetime": "Pick date and time",
    "picker.time": "Pick a time",
    "picker.search": "Type to search",
    "unit.yuan": "yuan",
    "staff.lead": "Sign in with your staff account, or with an API key below.",
    "staff.username": "Username",
    "staff.password": "Password",
    "staff.totp": "Code (authenticator app)",
    "staff.invalid": "Wrong username or password.",
    "staff.totpNeeded": "Enter the 6-digit code from your authenticator app.",
    "staff.totpWrong": "Wrong or already used code.",
    "staff.locked": "Too many failed attempts: try again in {s} s.",
    "staff.noApps": "This account belongs to no app yet.",
    brand: "huoli console",
    "signin.title": "Sign in",
    "signin.lead": "Sign in with an operator API key (an app owner creates one on the API keys page, or run huoli keys create). The key stays in this browser.",
    "firstrun.title": "First run: create the first app",
    "firstrun.lead": "This server has no app yet. You are on the server's own machine (127.0.0.1), so you can create the first app here and get its owner key. Once an app exists this closes; new apps then need an owner key.",
    "firstrun.id": "App ID",
    "firstrun.idHint": "Starts with a lowercase letter; used in the API and events, e.g. my-shop. Cannot change later.",
    "firstrun.name": "App name",
    "firstrun.timezone": "Timezone",
    "firstrun.tzHint": "Local days (reports, check-in) follow this timezone; default Asia/Shanghai.",
    "firstrun.submit": "Create app",
    "firstrun.created": "App “{name}” created. This is its owner key, shown only once — copy it and keep it safe (it can create other keys):",
    "firstrun.keyNote": "The key is saved in this browser to sign in. If it is lost, create a new one with huoli keys create.",
    "firstrun.continue": "Open the console",
    "firstrun.remote": "The first app can only be created on the server's own machine.",
    "copy": "Copy",
    "copy.done": "Copied",
    "copy.select": "Selected: press Ctrl+C to copy",
    "signin.key": "Operator API key",
    "signin.submit": "Sign in",
    "signin.cancel": "Cancel",
    "signin.checking": "Checking…",
    "signin.empty": "Enter an API key.",
    "signin.invalid": "This key is invalid or revoked. Check it and try again.",
    "signin.expired": "The current key no longer works. Sign in again.",
    "signin.network": "Cannot reach the huoli server.",
    "app.switch": "Switch app",
    "app.add": "+ Add an app (another key)",
    "app.new": "+ Create an app",
    "app.signout": "Sign out of this app",
    lang: "中文",
    "lang.label": "Switch language",
    "range.label": "Date range",
    "range.start": "Start",
    "range.end": "End",
    "range.apply": "Apply",
    "range.compare": "Compare to previous period",
    "range.days": "Last {n} days",
    "range.invalid": "Start must be on or before end, and the range at most 366 days.",
    "range.tz": "Timezone",
    "vendor.missing": "The ECharts library is not installed: run make install in the project (needs the npm registry). Everything else works.",
    "chart.missing": "Charts need make install",
    "page.notfound": "No such page.",
    "page.none": "No pages yet.",
    "page.failed": "The page failed to load",
    "page.forbidden": "This key's role may not see this.",
    "module.failed": "Some page modules failed to load: ",
    "table.empty": "No data",
    "form.error": "Fix the marked fields.",
    "group.overview": "Overview",
    "group.events": "Data",
    "group.analytics": "Analytics",
    "group.diagnosis": "Diagnosis",
    "group.marketing": "Marketing center",
    "group.engage": "Members",
    "group.experiment": "Experiments",
    "group.settings": "Settings",
  },
};

// Messages are plain text with {name} placeholders; the custom compiler keeps them so (vue-i18n's own syntax
// would read "@" and "|" in operators' text as links and plurals) and needs no eval under the console's CSP.
function compile(message) {
  const text = String(message);
  return (ctx) => text.replace(/\{(\w+)\}/g, (m, k) => {
    const v = ctx.named(k);
    return v === undefined ? m : String(v);
  });
}

export function makeI18n(lang, domainMessages) {
  const messages = { zh: { ...SHELL.zh }, en: { ...SHELL.en } };
  for (const [domain, dict] of Object.entries(domainMessages)) {
    for (const l of LANGS) messages[l][domain] = { ...(dict?.zh || {}), ...(dict?.[l] || {}) };
  }
  return createI18n({
    legacy: false,
    locale: lang,
    fallbackLocale: "zh",
    messages,
    messageCompiler: compile,
    missingWarn: false,
    fallbackWarn: false,
    warnHtmlMessage: false,
  });
}

function fill(s, vars) {
  return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
}

// t(x, vars) for a domain's pages: x is {zh, en} (picked by language) or a key looked up in the domain's
// dictionary, then the shell's; an unknown key shows as itself (the untranslated-text walk catches it).
export function translator(i18n, domain) {
  const g = i18n.global;
  return (x, vars) => {
    const lang = g.locale.value;
    if (x && typeof x === "object") return fill(String(x[lang] ?? x.zh ?? x.en ?? ""), vars);
    const key = String(x ?? "");
    const dict = g.getLocaleMessage(lang);
    const own = domain ? dict[domain]?.[key] : undefined;
    if (own !== undefined) return fill(own, vars);
    if (dict[key] !== undefined && typeof dict[key] === "string") return fill(dict[key], vars);
    return fill(key, vars);
  };
}

// The shell's own strings. Pages bring theirs as {zh, en} objects or in their domain's i18n.json.

export const LANGS = ["zh", "en"];

export const SHELL = {
  zh: {
    brand: "活力 huoli 控制台",
    "signin.title": "登录控制台",
    "signin.lead": "使用运营 API 密钥登录（在命令行运行 huoli keys create 创建）。密钥只保存在本浏览器。",
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
    "group.engage": "运营",
    "group.experiment": "实验",
    "group.settings": "设置",
  },
  en: {
    brand: "huoli console",
    "signin.title": "Sign in",
    "signin.lead": "Sign in with an operator API key (create one with huoli keys create). The key stays in this browser.",
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
    "group.engage": "Engagement",
    "group.experiment": "Experiments",
    "group.settings": "Settings",
  },
};

// t(x): x is {zh, en} (picked by lang) or a key looked up in the given dictionaries, else shown as is.
// vars fill "{name}" placeholders.
export function translate(lang, dicts, x, vars) {
  let s;
  if (x && typeof x === "object") s = x[lang] ?? x.zh ?? x.en ?? "";
  else {
    s = String(x ?? "");
    for (const d of dicts) {
      const v = d?.[lang]?.[s] ?? d?.zh?.[s];
      if (v !== undefined) {
        s = v;
        break;
      }
    }
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// ctx.ui: small helpers every page shares. All text goes in as text nodes (see dom.js).
import { append, clear, h } from "./dom.js";

// The API's validation messages are English (pydantic); the common ones read better in Chinese.
const ZH_MESSAGES = [
  [/^String should have at least (\d+) characters?$/, (n) => `至少需要 ${n} 个字符`],
  [/^String should have at most (\d+) characters?$/, (n) => `最多 ${n} 个字符`],
  [/^Field required$/, () => "必填"],
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

export function localMessage(lang, message) {
  const text = String(message ?? "");
  if (lang !== "zh") return text;
  for (const [re, fn] of ZH_MESSAGES) {
    const m = text.match(re);
    if (m) return fn(m[1]);
  }
  return text;
}

// shell: { t(x), lang, echarts (or null), charts: Set of live chart instances for the current page }
export function makeUi(shell) {
  const { t } = shell;

  // columns: [{key, title: {zh, en} | string, format?: (value, row) => string | Node, align?: "right"}]
  function table(columns, rows, { empty, caption } = {}) {
    const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.align ? `align-${c.align}` : null }, t(c.title))));
    const body = h("tbody");
    if (!rows || rows.length === 0) {
      body.append(h("tr", { class: "empty" }, h("td", { colspan: columns.length }, empty ? t(empty) : t("table.empty"))));
    }
    for (const row of rows || []) {
      const tr = h("tr");
      for (const c of columns) {
        const raw = c.key in row ? row[c.key] : null;
        const v = c.format ? c.format(raw, row) : raw;
        tr.append(append(h("td", { class: c.align ? `align-${c.align}` : null, dataset: { col: c.key } }), v ?? ""));
      }
      body.append(tr);
    }
    return h("div", { class: "table-wrap" },
      h("table", { class: "table" }, caption ? h("caption", {}, t(caption)) : null, h("thead", {}, head), body));
  }

  // Puts each {field, message} of an ApiError next to the input named `field`; the rest at the form's top.
  // Pass null to clear. Returns how many messages were shown.
  function formErrors(form, error) {
    for (const el of form.querySelectorAll(".field-error, .form-error")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    }
    if (!error) return 0;
    const loose = [];
    let shown = 0;
    const details = Array.isArray(error.details) ? error.details : [];
    for (const d of details) {
      const field = String(d?.field ?? "");
      const input = field ? form.querySelector(`[name="${CSS.escape(field)}"]`) : null;
      if (!input) {
        loose.push(field ? `${field}: ${localMessage(shell.lang, d.message)}` : localMessage(shell.lang, d.message));
        continue;
      }
      const id = `err-${form.id || "form"}-${field.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const msg = h("p", { class: "field-error", id, role: "alert", dataset: { field } }, localMessage(shell.lang, d.message));
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
      input.insertAdjacentElement("afterend", msg);
      shown += 1;
    }
    if (loose.length || shown === 0) {
      const top = h("div", { class: "form-error", role: "alert" },
        shown ? t("form.error") : error.message || t("form.error"), loose.map((m) => h("div", {}, m)));
      form.prepend(top);
      shown += 1;
    }
    return shown;
  }

  function toast(message, { kind = "info", ms = 4000 } = {}) {
    let box = document.getElementById("toasts");
    if (!box) {
      box = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
      document.body.append(box);
    }
    const el = h("div", { class: `toast toast-${kind}` }, t(message));
    box.append(el);
    setTimeout(() => el.remove(), ms);
    return el;
  }

  // A secret shown once: the value, a copy button, and a note. Copies with the Clipboard API, else selects it.
  function secretBox(value, { id, note, label } = {}) {
    const code = h("code", { class: "mono secret-value", id }, value);
    const button = h("button", { type: "button", class: "copy", dataset: { copies: id || "" } }, t("copy"));
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(value);
        button.textContent = t("copy.done");
      } catch {
        const range = document.createRange();
        range.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        button.textContent = t("copy.select");
      }
    });
    return h("div", { class: "secret", role: "status" },
      label ? h("div", {}, t(label)) : null,
      h("div", { class: "secret-row" }, code, button),
      note ? h("p", { class: "small" }, t(note)) : null);
  }

  // Draws an ECharts option into el; without ECharts installed it says so instead. Returns the instance.
  function chart(el, option) {
    if (!shell.echarts) {
      clear(el).append(h("p", { class: "chart-missing" }, t("chart.missing")));
      el.classList.add("chart-unavailable");
      return null;
    }
    let inst = shell.echarts.getInstanceByDom(el);
    if (!inst) {
      inst = shell.echarts.init(el, null, { renderer: "canvas" });
      shell.charts.add(inst);
      const ro = new ResizeObserver(() => inst.isDisposed() || inst.resize());
      ro.observe(el);
      inst.__huoliResize = ro;
    }
    inst.setOption(option, true);
    return inst;
  }

  function disposeCharts() {
    for (const inst of shell.charts) {
      inst.__huoliResize?.disconnect();
      if (!inst.isDisposed()) inst.dispose();
    }
    shell.charts.clear();
  }

  return { h, append, clear, table, formErrors, toast, chart, disposeCharts, secretBox };
}

// The console shell: sign-in, app switcher, language, date range, nav and hash routing.
// Pages come from GET /console/pages.json (each domain's src/huoli/<domain>/console/*.js); see docs/console.md.
import { ApiError, apiRequest } from "./lib/api.js";
import { clear, h } from "./lib/dom.js";
import { SHELL, translate } from "./lib/i18n.js";
import * as ranges from "./lib/range.js";
import * as store from "./lib/store.js";
import { makeUi } from "./lib/ui.js";

const state = {
  lang: store.savedLang(),
  manifest: { pages: [], i18n: {}, vendor: {} },
  pages: [],
  moduleErrors: [],
  i18n: {},
  echarts: null,
  session: null,
  app: null,
  range: null,
  page: null,
  params: new URLSearchParams(),
  rangeCallbacks: [],
  charts: new Set(),
  seq: 0,
};

const root = document.getElementById("app");
const T = (x, vars) => translate(state.lang, [SHELL], x, vars);
const RANGE_KEYS = ["start", "end", "compare"];

function setDocumentLang() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = T("brand");
}

async function fetchJson(url) {
  const res = await fetch(url, { credentials: "omit", cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

// ---- loading pages, translations and vendor libraries -------------------------------------------------

function validPage(mod) {
  const p = mod?.default;
  return p && typeof p.id === "string" && /^[a-z0-9][a-z0-9_-]*$/.test(p.id) && typeof p.render === "function"
    && p.title && (typeof p.title === "string" || typeof p.title === "object");
}

async function loadModules() {
  const loaded = await Promise.all(state.manifest.pages.map(async (entry) => {
    try {
      const mod = await import(entry.module);
      if (!validPage(mod)) throw new Error("default export needs id, title and render(root, ctx)");
      return { ...mod.default, domain: entry.domain, module: entry.module };
    } catch (err) {
      state.moduleErrors.push(`${entry.module}: ${err?.message || err}`);
      return null;
    }
  }));
  const seen = new Set();
  state.pages = [];
  for (const p of loaded) {
    if (!p) continue;
    if (seen.has(p.id)) {
      state.moduleErrors.push(`${p.module}: duplicate page id "${p.id}"`);
      continue;
    }
    seen.add(p.id);
    state.pages.push(p);
  }
  state.pages.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.id.localeCompare(b.id));
}

async function loadI18n() {
  await Promise.all(Object.entries(state.manifest.i18n || {}).map(async ([domain, url]) => {
    try {
      state.i18n[domain] = await fetchJson(url);
    } catch (err) {
      state.moduleErrors.push(`${url}: ${err?.message || err}`);
    }
  }));
}

async function loadEcharts() {
  const url = state.manifest.vendor?.echarts;
  if (!url) return;
  try {
    state.echarts = await import(url);
  } catch (err) {
    state.moduleErrors.push(`${url}: ${err?.message || err}`);
  }
}

// ---- session -----------------------------------------------------------------------------------------

async function start(message) {
  state.session = store.currentKey();
  if (!state.session) return renderSignIn({ message });
  try {
    state.app = await apiRequest(state.session.key, "/admin/app");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      store.forgetKey(state.session.appId);
      return start("signin.expired");
    }
    return renderFatal(err);
  }
  store.saveKey(state.app.id, state.app.name, state.session.key);
  state.session = store.currentKey();
  if (state.range && state.range.tz !== state.app.timezone) {
    state.range = ranges.makeRange(state.range.start, state.range.end, state.app.timezone, state.range.compare);
  }
  renderShell();
  route();
}

function expired() {
  if (!state.session) return;
  store.forgetKey(state.session.appId);
  state.session = null;
  start("signin.expired");
}

function renderFatal(err) {
  clear(root).append(h("main", { class: "signin" }, h("div", { class: "signin-card" },
    h("h1", {}, T("brand")),
    h("p", { class: "form-error", role: "alert" }, err?.code === "network_error" ? T("signin.network") : String(err?.message || err)),
    h("button", { type: "button", onclick: () => start() }, "↻"))));
}

function langButton() {
  return h("button", {
    type: "button", id: "lang-toggle", class: "lang", "aria-label": T("lang.label"),
    onclick: () => {
      state.lang = state.lang === "zh" ? "en" : "zh";
      store.saveLang(state.lang);
      setDocumentLang();
      if (state.app && state.session) {
        renderShell();
        route();
      } else {
        renderSignIn({ cancellable: !!store.currentKey() });
      }
    },
  }, T("lang"));
}

function renderSignIn({ message, cancellable = false } = {}) {
  state.seq += 1;
  state.app = null;
  const input = h("input", {
    id: "signin-key", name: "key", type: "password", autocomplete: "off", spellcheck: "false",
    placeholder: "hlk_…", required: false,
  });
  const error = h("p", { class: "form-error", id: "signin-error", role: "alert", hidden: !message }, message ? T(message) : "");
  const submit = h("button", { type: "submit", class: "primary" }, T("signin.submit"));
  const form = h("form", { id: "signin", novalidate: true },
    h("label", { for: "signin-key" }, T("signin.key")), input, error,
    h("div", { class: "actions" }, submit,
      cancellable ? h("button", { type: "button", onclick: () => start() }, T("signin.cancel")) : null));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    const show = (msg) => {
      error.hidden = false;
      error.textContent = msg;
      input.setAttribute("aria-invalid", "true");
    };
    if (!key) return show(T("signin.empty"));
    submit.disabled = true;
    submit.textContent = T("signin.checking");
    try {
      const app = await apiRequest(key, "/admin/app");
      store.saveKey(app.id, app.name, key);
      await start();
    } catch (err) {
      submit.disabled = false;
      submit.textContent = T("signin.submit");
      if (err instanceof ApiError && err.status === 401) show(T("signin.invalid"));
      else if (err instanceof ApiError && err.status === 0) show(T("signin.network"));
      else show(String(err?.message || err));
    }
  });
  const firstRunSlot = h("div", { id: "first-run-slot" });
  const staffForm = staffSignIn();
  clear(root).append(h("main", { class: "signin" }, h("div", { class: "signin-stack" }, firstRunSlot,
    h("div", { class: "signin-card" },
      h("div", { class: "signin-top" }, h("h1", {}, T("brand")), langButton()),
      h("h2", {}, T("signin.title")),
      staffForm,
      h("p", { class: "lead" }, T("signin.lead")),
      form))));
  input.focus();
  if (!cancellable) offerFirstRun(firstRunSlot, state.seq);
}

// Staff sign-in (staff/routes.py): username + password (+ TOTP once enrolled). The session token is kept once
// per app with a `~<app id>` suffix, the app choice deps.operator reads, so the app switcher works unchanged.
const STAFF = {
  zh: { lead: "使用员工账号登录，或在下方使用 API 密钥。", username: "用户名", password: "密码", totp: "验证码（身份验证器）",
    invalid: "用户名或密码错误。", totpNeeded: "请输入身份验证器中的 6 位验证码。", totpWrong: "验证码错误或已使用。",
    locked: "失败次数过多，请在 {s} 秒后重试。", noApps: "此账号还不属于任何应用。" },
  en: { lead: "Sign in with your staff account, or with an API key below.", username: "Username", password: "Password",
    totp: "Code (authenticator app)", invalid: "Wrong username or password.", totpNeeded: "Enter the 6-digit code from your authenticator app.",
    totpWrong: "Wrong or already used code.", locked: "Too many failed attempts: try again in {s} s.", noApps: "This account belongs to no app yet." },
};

function staffSignIn() {
  const S = (k, vars) => STAFF[state.lang][k].replace("{s}", vars?.s ?? "");
  const field = (name, label, attrs) => [h("label", { for: `staff-${name}` }, S(label)),
    h("input", { id: `staff-${name}`, name, spellcheck: "false", ...attrs })];
  const totpRow = h("div", { id: "staff-totp-row", hidden: true },
    field("totp", "totp", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6 }));
  const error = h("p", { class: "form-error", id: "staff-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", id: "staff-submit" }, T("signin.submit"));
  const form = h("form", { id: "staff-signin", novalidate: true }, h("p", { class: "lead" }, S("lead")),
    field("username", "username", { type: "text", autocomplete: "username" }),
    field("password", "password", { type: "password", autocomplete: "current-password" }),
    totpRow, error, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = (n) => form.elements[n].value.trim();
    const show = (msg) => { error.hidden = false; error.textContent = msg; };
    if (!v("username") || !form.elements.password.value) return show(S("invalid"));
    submit.disabled = true;
    try {
      const body = { username: v("username"), password: form.elements.password.value };
      if (v("totp")) body.totp = v("totp");
      const res = await apiRequest(null, "/v1/staff/login", { method: "POST", body });
      if (!res.staff.apps.length) return show(S("noApps"));
      for (const a of res.staff.apps) store.saveKey(a.app_id, a.name, `${res.token}~${a.app_id}`);
      store.setCurrent(res.staff.apps[0].app_id);
      await start();
    } catch (err) {
      const code = err instanceof ApiError ? err.code : "";
      if (code === "totp_required" || code === "invalid_totp") {
        totpRow.hidden = false;
        form.elements.totp.focus();
      }
      show(code === "too_many_attempts" ? S("locked", { s: err.details?.retry_after_s ?? "" })
        : code === "totp_required" ? S("totpNeeded") : code === "invalid_totp" ? S("totpWrong")
        : err?.status === 0 ? T("signin.network") : code === "invalid_credentials" ? S("invalid") : String(err?.message || err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// A fresh server on this machine (no app yet) offers to create the first app without a key (apps/routes.py).
async function offerFirstRun(slot, seq) {
  let status;
  try {
    status = await apiRequest(null, "/admin/setup/first-run");
  } catch {
    return; // an older server, or none: sign-in still works
  }
  if (!status?.available || seq !== state.seq) return;
  const field = (name, label, attrs, hint) => [
    h("label", { for: `first-run-${name}` }, T(label)),
    h("div", { class: "field" }, h("input", { id: `first-run-${name}`, name, type: "text", autocomplete: "off", ...attrs }),
      hint ? h("span", { class: "small muted" }, T(hint)) : null),
  ];
  const submit = h("button", { type: "submit", class: "primary" }, T("firstrun.submit"));
  const form = h("form", { id: "first-run", novalidate: true },
    h("div", { class: "form-grid" },
      field("id", "firstrun.id", { placeholder: "my-shop", spellcheck: "false" }, "firstrun.idHint"),
      field("name", "firstrun.name", { placeholder: "我的小店" }),
      field("timezone", "firstrun.timezone", { value: "Asia/Shanghai", spellcheck: "false" }, "firstrun.tzHint"),
      h("span"), h("div", {}, submit)));
  const ui = makeUi({ t: T, lang: state.lang, charts: state.charts, echarts: null });
  const card = h("section", { class: "signin-card first-run", id: "first-run-card" },
    h("h2", {}, T("firstrun.title")), h("p", { class: "lead" }, T("firstrun.lead")), form);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    ui.formErrors(form, null);
    submit.disabled = true;
    const value = (n) => form.elements[n].value.trim();
    try {
      const created = await apiRequest(null, "/admin/setup/first-run", {
        method: "POST", body: { id: value("id"), name: value("name"), timezone: value("timezone") || "Asia/Shanghai" },
      });
      // Kept at once, so a reload before "continue" cannot lose the only owner key.
      store.saveKey(created.app.id, created.app.name, created.key.key);
      document.querySelector(".signin-card:not(.first-run)")?.setAttribute("hidden", ""); // the next step is "continue"
      clear(card).append(
        h("h2", {}, T("firstrun.title")),
        ui.secretBox(created.key.key, { id: "first-run-key", label: T("firstrun.created", { name: created.app.name }),
          note: "firstrun.keyNote" }),
        h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "first-run-continue",
          onclick: () => start() }, T("firstrun.continue"))));
    } catch (err) {
      submit.disabled = false;
      if (err instanceof ApiError && err.status === 422) ui.formErrors(form, err);
      else ui.formErrors(form, { message: err.message, details: [] });
    }
  });
  clear(slot).append(card);
  form.elements.id.focus();
}

// ---- the shell ---------------------------------------------------------------------------------------

function appSwitcher() {
  const keys = store.savedKeys();
  const select = h("select", { id: "app-switcher", "aria-label": T("app.switch") },
    keys.map((k) => h("option", { value: k.appId, selected: k.appId === state.app.id }, `${k.appName} (${k.appId})`)),
    h("option", { value: "__add" }, T("app.add")),
    h("option", { value: "__new" }, T("app.new")));
  select.addEventListener("change", () => {
    if (select.value === "__add") return renderSignIn({ cancellable: true });
    if (select.value === "__new") {
      select.value = state.app.id;
      location.hash = "#/app-new";
      return;
    }
    store.setCurrent(select.value);
    start();
  });
  return select;
}

function renderShell() {
  setDocumentLang();
  const banners = [];
  if (!state.manifest.vendor?.echarts) {
    banners.push(h("p", { class: "banner banner-warn", id: "vendor-missing", role: "status" }, T("vendor.missing")));
  }
  if (state.moduleErrors.length) {
    banners.push(h("div", { class: "banner banner-error", id: "module-errors", role: "status" },
      T("module.failed"), state.moduleErrors.map((m) => h("div", { class: "mono" }, m))));
  }
  clear(root).append(
    h("header", { class: "topbar" },
      h("a", { class: "brand", href: "#/" }, T("brand")),
      h("span", { class: "app-name", id: "app-name", title: state.app.id }, state.app.name),
      h("div", { class: "topbar-right" },
        appSwitcher(),
        langButton(),
        h("button", { type: "button", id: "sign-out", onclick: () => {
          store.forgetKey(state.app.id);
          start();
        } }, T("app.signout")))),
    h("div", { class: "layout" },
      h("nav", { id: "nav", class: "nav", "aria-label": "pages" }),
      h("main", { class: "main" }, banners, h("div", { id: "range-slot" }), h("div", { id: "page-slot" }))));
  renderNav();
}

function hashFor(pageId, params) {
  const q = new URLSearchParams(params).toString();
  return `#/${pageId}${q ? `?${q}` : ""}`;
}

function rangeQuery() {
  return state.range ? ranges.rangeParams(state.range) : {};
}

function renderNav() {
  const nav = document.getElementById("nav");
  if (!nav) return;
  clear(nav);
  if (!state.pages.length) nav.append(h("p", { class: "muted" }, T("page.none")));
  // Groups sit in the order of their first (lowest-order) page; pages keep their order within a group.
  const groups = new Map();
  for (const p of state.pages) {
    const g = p.group || p.id;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(p);
  }
  for (const [g, pages] of groups) {
    const titled = pages.find((p) => p.groupTitle);
    const label = titled ? translate(state.lang, [], titled.groupTitle) : T(`group.${g}`);
    const list = h("ul", {});
    nav.append(h("div", { class: "nav-group" }, label === `group.${g}` ? g : label), list);
    for (const p of pages) {
      const active = state.page?.id === p.id;
      list.append(h("li", {}, h("a", {
        href: hashFor(p.id, rangeQuery()), dataset: { page: p.id }, class: active ? "active" : null,
        "aria-current": active ? "page" : null,
      }, translate(state.lang, [state.i18n[p.domain], SHELL], p.title))));
    }
  }
}

function renderRangeBar() {
  const slot = document.getElementById("range-slot");
  if (!slot) return;
  clear(slot);
  if (!state.page || state.page.range === false) return;
  const r = state.range;
  const todayLocal = ranges.today(r.tz);
  const presets = ranges.PRESETS.map((n) => h("button", {
    type: "button", class: r.end === todayLocal && r.days === n ? "preset active" : "preset", dataset: { days: n },
    "aria-pressed": r.end === todayLocal && r.days === n ? "true" : "false",
    onclick: () => setRange(ranges.presetRange(n, r.tz, r.compare)),
  }, T("range.days", { n })));
  const start = h("input", { type: "date", name: "start", id: "range-start", value: r.start, "aria-label": T("range.start") });
  const end = h("input", { type: "date", name: "end", id: "range-end", value: r.end, "aria-label": T("range.end") });
  const compare = h("input", { type: "checkbox", name: "compare", id: "range-compare", checked: r.compare });
  const error = h("span", { class: "field-error", id: "range-error", role: "alert", hidden: true });
  const form = h("form", { id: "range", class: "range", novalidate: true, "aria-label": T("range.label") },
    h("div", { class: "presets" }, presets),
    h("label", { for: "range-start" }, T("range.start")), start,
    h("label", { for: "range-end" }, T("range.end")), end,
    h("button", { type: "submit" }, T("range.apply")),
    h("label", { class: "check" }, compare, T("range.compare")),
    h("span", { class: "muted tz" }, `${T("range.tz")}: ${r.tz}`),
    error);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const params = new URLSearchParams({ start: start.value, end: end.value });
    if (compare.checked) params.set("compare", "1");
    const next = ranges.rangeFromParams(params, r.tz);
    if (!next) {
      error.hidden = false;
      error.textContent = T("range.invalid");
      return;
    }
    setRange(next);
  });
  compare.addEventListener("change", () => setRange(ranges.makeRange(r.start, r.end, r.tz, compare.checked)));
  slot.append(form);
}

function setRange(next) {
  state.range = next;
  const params = new URLSearchParams(state.params);
  for (const k of RANGE_KEYS) params.delete(k);
  for (const [k, v] of Object.entries(ranges.rangeParams(next))) params.set(k, v);
  state.params = params;
  history.replaceState(null, "", hashFor(state.page.id, params));
  renderNav();
  renderRangeBar();
  const callbacks = state.rangeCallbacks.slice();
  if (!callbacks.length) return renderPage();
  const seq = state.seq;
  for (const cb of callbacks) {
    Promise.resolve().then(() => cb(next)).catch((err) => seq === state.seq && showPageError(err));
  }
}

// ---- routing -----------------------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [id, query = ""] = raw.split("?", 2);
  return { id: decodeURIComponent(id || ""), params: new URLSearchParams(query) };
}

function route() {
  if (!state.app) return;
  const { id, params } = parseHash();
  const page = id ? state.pages.find((p) => p.id === id) : state.pages[0];
  const tz = state.app.timezone;
  state.range = ranges.rangeFromParams(params, tz) || state.range || ranges.presetRange(7, tz, false);
  if (params.get("start") !== state.range.start || params.get("end") !== state.range.end
      || (params.get("compare") === "1") !== state.range.compare) {
    for (const k of RANGE_KEYS) params.delete(k);
    for (const [k, v] of Object.entries(ranges.rangeParams(state.range))) params.set(k, v);
  }
  state.params = params;
  state.page = page || null;
  if (page) history.replaceState(null, "", hashFor(page.id, params));
  renderNav();
  renderRangeBar();
  renderPage();
}

function showPageError(err) {
  const slot = document.getElementById("page-body");
  if (!slot) return;
  if (err instanceof ApiError && err.status === 401) return expired();
  console.warn("huoli console page error", err);
  const text = err instanceof ApiError && err.status === 403 ? T("page.forbidden")
    : `${T("page.failed")}: ${err?.message || err}`;
  slot.append(h("p", { class: "page-error", role: "alert" }, text));
}

function fmtNumber(n) {
  return n == null ? "" : new Intl.NumberFormat(state.lang === "zh" ? "zh-CN" : "en-US").format(n);
}

function fmtDateTime(value, { seconds = true } = {}) {
  if (value == null || value === "") return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const parts = {};
  const opts = { timeZone: state.app.timezone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit" };
  for (const p of new Intl.DateTimeFormat("en-US", opts).formatToParts(d)) parts[p.type] = p.value;
  const time = seconds ? `${parts.hour}:${parts.minute}:${parts.second}` : `${parts.hour}:${parts.minute}`;
  return `${parts.year}-${parts.month}-${parts.day} ${time}`;
}

function makeCtx(page, seq) {
  const t = (x, vars) => translate(state.lang, [state.i18n[page.domain], SHELL], x, vars);
  const ui = makeUi({ t, lang: state.lang, charts: state.charts, get echarts() { return state.echarts; } });
  return {
    async api(path, opts) {
      try {
        return await apiRequest(state.session.key, path, opts);
      } catch (err) {
        if (err instanceof ApiError && err.status === 401 && seq === state.seq) setTimeout(expired, 0);
        throw err;
      }
    },
    // Every row of a paginated admin list ({items, next_cursor}): follows the cursors, 200 rows a request.
    async apiAll(path, opts = {}) {
      const items = [];
      let cursor = null;
      do {
        const page = await this.api(path, { ...opts, query: { ...(opts.query || {}), limit: 200, cursor } });
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      return items;
    },
    lang: state.lang,
    t,
    app: state.app,
    get range() {
      return state.range;
    },
    onRangeChange(cb) {
      if (seq === state.seq) state.rangeCallbacks.push(cb);
    },
    params: Object.fromEntries(state.params),
    navigate(hash) {
      location.hash = String(hash).replace(/^#/, "");
    },
    // Updates the hash query without re-rendering (e.g. a filter the page already applied).
    setParams(values) {
      if (seq !== state.seq) return;
      const params = new URLSearchParams(state.params);
      for (const [k, v] of Object.entries(values)) {
        if (v === null || v === undefined || v === "") params.delete(k);
        else params.set(k, String(v));
      }
      state.params = params;
      history.replaceState(null, "", hashFor(page.id, params));
    },
    isCurrent: () => seq === state.seq,
    ApiError,
    echarts: state.echarts,
    ui,
    fmt: { number: fmtNumber, datetime: fmtDateTime },
  };
}

async function renderPage() {
  const slot = document.getElementById("page-slot");
  if (!slot) return;
  state.seq += 1;
  const seq = state.seq;
  state.rangeCallbacks = [];
  makeUi({ t: T, charts: state.charts, echarts: state.echarts }).disposeCharts();
  const page = state.page;
  if (!page) {
    clear(slot).append(h("p", { class: "page-error", role: "alert" }, state.pages.length ? T("page.notfound") : T("page.none")));
    return;
  }
  const ctx = makeCtx(page, seq);
  const body = h("div", { id: "page-body", class: "page-body" });
  clear(slot).append(h("section", { class: "page", id: "page-root", dataset: { page: page.id, state: "loading" } },
    h("h1", { class: "page-title" }, ctx.t(page.title)), body));
  try {
    await page.render(body, ctx);
  } catch (err) {
    if (seq === state.seq) showPageError(err);
  }
  if (seq === state.seq) document.getElementById("page-root")?.setAttribute("data-state", "ready");
}

// ---- boot --------------------------------------------------------------------------------------------

async function boot() {
  setDocumentLang();
  try {
    state.manifest = await fetchJson("/console/pages.json");
  } catch (err) {
    state.moduleErrors.push(String(err?.message || err));
  }
  await Promise.all([loadI18n(), loadModules(), loadEcharts()]);
  window.addEventListener("hashchange", route);
  await start();
}

boot();

// The console's state (session, app, language, date range, route) and what a page gets from useConsole().
import { ElMessage, ElMessageBox } from "element-plus";
import { computed, getCurrentInstance, inject, onBeforeUnmount, reactive, ref, shallowRef, watch } from "vue";
import { ApiError, apiRequest } from "./api.js";
import { makeFormat } from "./format.js";
import { translator } from "./i18n.js";
import { localMessage } from "./messages.js";
import * as ranges from "./range.js";
import * as store from "./store.js";

export const RANGE_KEYS = ["start", "end", "compare"];
export const PAGE = Symbol("huoli-page");

export const state = reactive({
  lang: store.savedLang(),
  session: null, // {appId, appName, key}
  app: null, // GET /admin/app
  range: null,
  route: { id: "", params: new URLSearchParams() },
  visit: 0, // bumped by every navigation: the page remounts
  signIn: null, // {message, cancellable} while the sign-in screen shows
});

let i18nRef = null;
export function bindI18n(i18n) {
  i18nRef = i18n;
}
export function i18n() {
  return i18nRef;
}

export function setLang(lang) {
  state.lang = lang;
  store.saveLang(lang);
  i18nRef.global.locale.value = lang;
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

export const shellT = (x, vars) => translator(i18nRef, null)(x, vars);

export function hashFor(pageId, params) {
  const q = new URLSearchParams(params || {}).toString();
  return `#/${pageId}${q ? `?${q}` : ""}`;
}

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [id, query = ""] = raw.split("?", 2);
  return { id: decodeURIComponent(id || ""), params: new URLSearchParams(query) };
}

export function rangeQuery() {
  return state.range ? ranges.rangeParams(state.range) : {};
}

// Writes params into the hash without a navigation (no remount): filters a page already applied.
export function replaceParams(values, { drop = [] } = {}) {
  const params = new URLSearchParams(state.route.params);
  for (const k of drop) params.delete(k);
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === undefined || v === "") params.delete(k);
    else params.set(k, String(v));
  }
  state.route = { id: state.route.id, params };
  history.replaceState(null, "", hashFor(state.route.id, params));
}

export function setRange(next) {
  state.range = next;
  replaceParams(ranges.rangeParams(next), { drop: RANGE_KEYS });
}

let onRestart = () => {};
export function whenRestart(fn) {
  onRestart = fn;
}

let onExpired = () => {};
export function whenExpired(fn) {
  onExpired = fn;
}

// opts.auth === false: a call made for no one (accepting an invitation): no key sent, a 401 is the call's own.
export async function api(path, opts = {}) {
  const { auth = true, ...rest } = opts;
  if (!auth) return apiRequest(null, path, rest);
  try {
    return await apiRequest(state.session?.key, path, rest);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && state.session) setTimeout(() => onExpired(), 0);
    throw err;
  }
}

// Every row of a paginated admin list ({items, next_cursor}), 200 rows a request.
export async function apiAll(path, opts = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { ...opts, query: { ...(opts.query || {}), limit: 200, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

// What a page's setup gets: the API, the app, its language and formats, the range, its URL params.
export function useConsole() {
  const page = inject(PAGE, null);
  const domain = page?.domain ?? null;
  const t = (x, vars) => {
    void state.lang; // re-render on a language switch
    return translator(i18nRef, domain)(x, vars);
  };
  const fmt = computed(() => makeFormat(state.lang, state.app?.timezone || "Asia/Shanghai"));
  return {
    api,
    apiAll,
    ApiError,
    t,
    get lang() {
      return state.lang;
    },
    get app() {
      return state.app;
    },
    get tz() {
      return state.app?.timezone || "Asia/Shanghai";
    },
    get range() {
      return state.range;
    },
    get params() {
      return Object.fromEntries(state.route.params);
    },
    get fmt() {
      return fmt.value;
    },
    setParams: (values) => replaceParams(values),
    // After a page signed someone in (saved a key or session with store.saveKey): the shell starts over.
    signedIn: () => onRestart(),
    store,
    navigate(hash) {
      location.hash = String(hash).replace(/^#/, "");
    },
    // The API's message in the operator's language (pydantic's English, "Value error, …", domain messages).
    message: (err) => localMessage(state.lang, err?.message ?? err, t),
    toast(message, kind = "success") {
      ElMessage({ message: t(message), type: kind, grouping: true, customClass: "toast" });
    },
    // A destructive action asks first; resolves true when confirmed.
    async confirm(message, { title, confirm, danger = true } = {}) {
      try {
        await ElMessageBox.confirm(t(message), t(title ?? "confirm.title"), {
          confirmButtonText: t(confirm ?? "confirm.ok"), cancelButtonText: t("confirm.cancel"),
          type: danger ? "warning" : "info", customClass: "confirm-box", confirmButtonClass: danger ? "el-button--danger" : "",
        });
        return true;
      } catch {
        return false;
      }
    },
    page,
  };
}

// Loads a page's data: again when the range changes (unless range: false) and on reload(). The page root
// says data-state="loading" until every load has settled once, which tests and the bench wait for.
export function useLoad(fn, { range = true, immediate = true } = {}) {
  const host = inject(PAGE, null);
  const data = shallowRef(null);
  const error = shallowRef(null);
  const loading = ref(false);
  let seq = 0;
  let alive = true;
  async function run() {
    const mine = ++seq;
    loading.value = true;
    host?.busy(1);
    try {
      const value = await fn(state.range);
      if (alive && mine === seq) {
        data.value = value;
        error.value = null;
      }
    } catch (err) {
      if (alive && mine === seq) {
        error.value = err;
        if (!(err instanceof ApiError && err.status === 401)) console.warn("huoli console load failed", err);
      }
    } finally {
      host?.busy(-1);
      if (alive && mine === seq) loading.value = false;
    }
    return data.value;
  }
  if (getCurrentInstance()) onBeforeUnmount(() => { alive = false; });
  if (range) watch(() => state.range, () => run());
  if (immediate) run();
  return { data, error, loading, reload: run };
}

export { ApiError, ranges, store };

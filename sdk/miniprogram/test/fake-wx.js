'use strict';
// A simulated WeChat mini-program runtime for the SDK tests: `wx` (sync storage, request, login,
// getLaunchOptionsSync, and with `createEnv({privacy})` the privacy authorisation APIs), fake `App`/`Page`
// registration with lifecycle drivers, and a manual clock whose timers only fire when the test advances it.

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const tick = () => new Promise((resolve) => setImmediate(resolve));

function createClock(start = 1_700_000_000_000) {
  let t = start;
  let seq = 0;
  let timers = []; // { id, due, fn }
  const clock = {
    now: () => t,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.push({ id, due: t + Math.max(0, Number(ms) || 0), fn });
      return id;
    },
    clearTimeout(id) {
      timers = timers.filter((x) => x.id !== id);
    },
    /** Move time forward, firing due timers in order (each sees its own due time as "now"). */
    advance(ms) {
      const target = t + ms;
      for (;;) {
        let next = null;
        for (const x of timers) {
          if (x.due <= target && (!next || x.due < next.due || (x.due === next.due && x.id < next.id))) next = x;
        }
        if (!next) break;
        timers = timers.filter((x) => x !== next);
        t = next.due;
        next.fn();
      }
      t = target;
    },
    /** Pending timers as delays from now, sorted. */
    pending() {
      return timers.map((x) => x.due - t).sort((a, b) => a - b);
    },
  };
  return clock;
}

/** Default server: accept everything. */
function acceptAll(req) {
  if (req.url.endsWith('/v1/events')) {
    return { status: 200, body: { accepted: req.data.events.length, duplicates: 0, rejected: [] } };
  }
  return { status: 404, body: { detail: 'not found' } };
}

/**
 * createEnv({ storage?: Map, clock?, launchOptions?, handler?, privacy? })
 * env.handler(req, env) -> { status, body, header } | { networkError: 'request:fail ...' } (may be async)
 */
function createEnv(opts = {}) {
  const storage = opts.storage || new Map();
  const clock = opts.clock || createClock(opts.start);
  const env = {
    storage,
    clock,
    requests: [],
    handler: opts.handler || acceptAll,
    pending: 0,
    maxRequests: 500, // runaway-loop guard: beyond this every request fails, so a regression fails fast
    storageItemLimit: Infinity, // bytes of JSON per key; WeChat's real limit is 1 MB
    launchOptions: opts.launchOptions || { path: 'pages/index/index', query: {}, scene: 1001 },
    loginCodes: 0,
    loginFails: false,
    appOptions: null,
    appInstance: null,
    pageOptions: [],
  };

  const wx = {
    setStorageSync(key, value) {
      if (typeof key !== 'string' || !key) throw new Error('setStorageSync:fail parameter error');
      const text = JSON.stringify(value);
      if (text.length > env.storageItemLimit) throw new Error('setStorageSync:fail exceed storage item max length');
      storage.set(key, text);
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
    clearStorageSync() {
      storage.clear();
    },
    getLaunchOptionsSync() {
      return clone(env.launchOptions);
    },
    login(o = {}) {
      env.pending++;
      setImmediate(() => {
        env.pending--;
        if (env.loginFails) {
          const err = { errMsg: 'login:fail' };
          o.fail && o.fail(err);
          o.complete && o.complete(err);
        } else {
          const res = { code: `wxcode-${++env.loginCodes}`, errMsg: 'login:ok' };
          o.success && o.success(res);
          o.complete && o.complete(res);
        }
      });
    },
    request(o) {
      // wx.request serialises object data as JSON for application/json.
      const req = {
        url: o.url,
        method: o.method || 'GET',
        header: { ...(o.header || {}) },
        data: typeof o.data === 'string' ? JSON.parse(o.data) : clone(o.data),
        timeout: o.timeout,
      };
      env.requests.push(req);
      env.pending++;
      setImmediate(async () => {
        let out;
        try {
          if (env.requests.length > env.maxRequests) throw new Error('fake-wx request limit exceeded');
          out = await env.handler(req, env);
        } catch (e) {
          out = { networkError: `request:fail ${e.message}` };
        }
        env.pending--;
        if (!out || out.networkError) {
          const err = { errMsg: (out && out.networkError) || 'request:fail' };
          o.fail && o.fail(err);
          o.complete && o.complete(err);
        } else {
          const res = {
            statusCode: out.status == null ? 200 : out.status,
            data: out.body === undefined ? '' : clone(out.body),
            header: out.header || {},
            errMsg: 'request:ok',
          };
          o.success && o.success(res);
          o.complete && o.complete(res);
        }
      });
      return { abort() {} };
    },
  };
  // ---- privacy authorisation (base library >= 2.32.3), only when the test asks for it ----
  // opts.privacy: { needAuthorization, contractName, officialAnswer: 'agree' | 'disagree', settingFails }
  if (opts.privacy) {
    const p = { needAuthorization: true, contractName: '《示例小程序隐私保护指引》', officialAnswer: 'disagree', ...opts.privacy };
    env.privacy = p;
    env.privacyListener = null;
    env.privacyPrompts = []; // eventInfo of every time the page's handler (or the official pop-up) was asked
    const later = (fn) => {
      env.pending++;
      setImmediate(() => {
        env.pending--;
        fn();
      });
    };
    wx.getPrivacySetting = (o = {}) => {
      later(() => {
        if (p.settingFails) {
          o.fail && o.fail({ errMsg: 'getPrivacySetting:fail' });
          return;
        }
        const res = { needAuthorization: p.needAuthorization, privacyContractName: p.contractName, errMsg: 'getPrivacySetting:ok' };
        o.success && o.success(res);
        o.complete && o.complete(res);
      });
    };
    wx.onNeedPrivacyAuthorization = (listener) => {
      env.privacyListener = listener; // WeChat keeps one listener: a new one replaces the old
    };
    /** Ask as a privacy-scoped API would: the registered listener, or WeChat's own pop-up. */
    env.askPrivacy = (referrer, done) => {
      if (!p.needAuthorization) return done(true);
      const eventInfo = { referrer };
      env.privacyPrompts.push(eventInfo);
      let settled = false;
      const resolve = (arg) => {
        if (settled || !arg || arg.event === 'exposureAuthorization') return;
        settled = true;
        if (arg.event === 'agree') p.needAuthorization = false;
        done(arg.event === 'agree');
      };
      if (env.privacyListener) env.privacyListener(resolve, eventInfo);
      else later(() => resolve({ event: p.officialAnswer }));
    };
    wx.requirePrivacyAuthorize = (o = {}) => {
      later(() =>
        env.askPrivacy('requirePrivacyAuthorize', (ok) => {
          if (ok) o.success && o.success({ errMsg: 'requirePrivacyAuthorize:ok' });
          else o.fail && o.fail({ errMsg: 'requirePrivacyAuthorize:fail privacy permission is not authorized', errno: 104 });
        })
      );
    };
    // A privacy-scoped API, to check the SDK never calls one on its own.
    env.privacyScopedCalls = 0;
    wx.getLocation = (o = {}) => {
      env.privacyScopedCalls++;
      later(() => env.askPrivacy('getLocation', (ok) => (ok ? o.success && o.success({ latitude: 0, longitude: 0 }) : o.fail && o.fail({ errMsg: 'getLocation:fail privacy permission is not authorized', errno: 104 }))));
    };
  }
  env.wx = wx;

  // ---- fake App / Page registration and lifecycle drivers ----
  env.App = (options) => {
    env.appOptions = options;
    env.appInstance = Object.assign({}, options); // hooks run with this = the app instance
  };
  env.Page = (options) => {
    env.pageOptions.push(options);
  };
  const call = (obj, hook, ...args) => (typeof obj[hook] === 'function' ? obj[hook](...args) : undefined);
  env.launch = (launch = env.launchOptions) => {
    env.launchOptions = launch;
    call(env.appInstance, 'onLaunch', clone(launch));
    return call(env.appInstance, 'onShow', clone(launch));
  };
  env.appShow = (options = { path: 'pages/index/index', query: {}, scene: 1001 }) =>
    call(env.appInstance, 'onShow', clone(options));
  env.appHide = () => call(env.appInstance, 'onHide');
  /** Create a page instance from registered options (route set like the framework does). */
  env.createPage = (options, route, { legacy = false } = {}) => {
    const inst = Object.assign({}, options);
    if (legacy) inst.__route__ = route;
    else inst.route = route;
    return inst;
  };
  /** onLoad(query) -> onShow -> onReady, advancing `loadMs` between onLoad and onReady. */
  env.openPage = (options, route, query = {}, loadMs = 0) => {
    const inst = env.createPage(options, route);
    call(inst, 'onLoad', clone(query));
    call(inst, 'onShow');
    clock.advance(loadMs);
    call(inst, 'onReady');
    return inst;
  };

  // ---- inspection helpers ----
  env.eventRequests = () => env.requests.filter((r) => r.url.endsWith('/v1/events'));
  env.consentRequests = () => env.requests.filter((r) => r.url.endsWith('/v1/privacy/consents'));
  env.sentEvents = () => env.eventRequests().flatMap((r) => r.data.events);
  env.stored = (key) => (storage.has(key) ? JSON.parse(storage.get(key)) : undefined);
  /** Let pending requests/logins (and the callbacks they trigger) run to completion. */
  env.settle = async () => {
    let quiet = 0;
    for (let i = 0; i < 1000 && quiet < 3; i++) {
      await tick();
      quiet = env.pending === 0 ? quiet + 1 : 0;
    }
  };
  return env;
}

/** Point the globals (wx, App, Page) at an env; returns a restore function. */
function installGlobals(env) {
  const saved = { wx: global.wx, App: global.App, Page: global.Page };
  global.wx = env.wx;
  global.App = env.App;
  global.Page = env.Page;
  return () => {
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete global[k];
      else global[k] = saved[k];
    }
  };
}

module.exports = { createClock, createEnv, installGlobals, acceptAll, clone, tick };

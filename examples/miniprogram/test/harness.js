'use strict';
// Runs this mini-program in node the way WeChat would, as far as Tencent's miniprogram-simulate goes: pages'
// WXML compiled by WeChat's own compiler (wcc, shipped in miniprogram-compiler) and rendered by j-component
// into a jsdom document, taps dispatched on the rendered nodes. miniprogram-simulate renders custom
// components only, so `Page()` here registers the page's options as one (data, methods, this.route) and the
// harness drives the page lifecycle (onLoad → onShow → onReady) like the framework. Its `wx` mocks are
// replaced where the example needs real answers: wx.request goes over HTTP to the huoli server, wx.login
// returns codes the fake WeChat server knows, storage is a Map.
const path = require('node:path');
const { JSDOM } = require('jsdom');

const ROOT = path.join(__dirname, '..');

const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>');
for (const k of ['window', 'document', 'Node', 'Element', 'HTMLElement', 'Event', 'CustomEvent', 'MutationObserver']) {
  global[k] = k === 'window' ? dom.window : dom.window[k];
}
const simulate = require('miniprogram-simulate'); // sets global.Component and a mock global.wx

function createRuntime({ codes = [], launchOptions } = {}) {
  const storage = new Map();
  const rt = { requests: [], navigations: [], storage, app: null, pageRoute: null, inflight: 0 };
  const wx = global.wx;

  wx.setStorageSync = (key, value) => storage.set(key, JSON.parse(JSON.stringify(value)));
  wx.getStorageSync = (key) => (storage.has(key) ? JSON.parse(JSON.stringify(storage.get(key))) : '');
  wx.removeStorageSync = (key) => storage.delete(key);
  wx.getLaunchOptionsSync = () => launchOptions || { path: 'pages/index/index', query: {}, scene: 1001 };
  wx.login = ({ success, fail }) => {
    const code = codes.shift();
    setTimeout(() => (code ? success({ code, errMsg: 'login:ok' }) : fail({ errMsg: 'login:fail no code left' })), 0);
  };
  wx.navigateTo = (opts) => {
    rt.navigations.push(opts.url);
    if (opts.success) setTimeout(() => opts.success({ errMsg: 'navigateTo:ok' }), 0);
  };
  // wx.request semantics: success for any HTTP answer (whatever the status), fail only without one; a GET's
  // data becomes the query string, another method's object data a JSON body; dataType json parses the body.
  wx.request = (opts) => {
    const method = (opts.method || 'GET').toUpperCase();
    let url = opts.url;
    let body;
    if (opts.data !== undefined) {
      if (method === 'GET') url += (url.includes('?') ? '&' : '?') + new URLSearchParams(opts.data).toString();
      else body = typeof opts.data === 'string' ? opts.data : JSON.stringify(opts.data);
    }
    const record = { url, method, header: { ...(opts.header || {}) }, data: opts.data };
    rt.requests.push(record);
    rt.inflight++;
    fetch(url, { method, headers: opts.header || {}, body, signal: AbortSignal.timeout(opts.timeout || 60000) })
      .then(async (res) => {
        const text = await res.text();
        let data = text;
        if (opts.dataType === undefined || opts.dataType === 'json') {
          try {
            data = JSON.parse(text);
          } catch (e) {
            data = text;
          }
        }
        record.status = res.status;
        record.response = data;
        opts.success && opts.success({ statusCode: res.status, data, header: Object.fromEntries(res.headers), errMsg: 'request:ok' });
      })
      .catch((e) => {
        record.status = null;
        opts.fail && opts.fail({ errMsg: 'request:fail ' + e.message });
      })
      .finally(() => {
        rt.inflight--;
      });
    return { abort() {} };
  };

  global.App = (options) => {
    rt.app = options; // App() makes the instance from the options; getApp() returns it
  };
  global.getApp = () => rt.app;
  global.getCurrentPages = () => [];
  global.Page = (options) => {
    const route = rt.pageRoute;
    const methods = {};
    for (const [k, v] of Object.entries(options)) if (typeof v === 'function') methods[k] = v;
    global.Component({
      data: options.data || {},
      methods,
      lifetimes: {
        created() {
          this.route = route;
        },
      },
    });
  };

  /** Launch: app.js runs (its require of the SDK is the package installed in node_modules), then onLaunch/onShow. */
  rt.launch = () => {
    require(path.join(ROOT, 'app.js'));
    const opts = wx.getLaunchOptionsSync();
    rt.app.onLaunch.call(rt.app, opts);
    rt.app.onShow.call(rt.app, opts);
  };

  /** Open a page: compile and render its WXML, then onLoad(query) → onShow → onReady on the instance. */
  rt.open = (route, query = {}) => {
    rt.pageRoute = route;
    const id = simulate.load(path.join(ROOT, route), { rootPath: ROOT });
    const page = simulate.render(id);
    page.attach(document.body);
    page.instance.options = query;
    page.instance.onLoad(query);
    page.instance.onShow();
    page.instance.onReady();
    page.text = (selector) => {
      const node = page.querySelector(selector);
      return node ? node.dom.textContent.trim() : null;
    };
    page.all = (selector) => page.querySelectorAll(selector);
    page.tap = (selector) => {
      const node = page.querySelector(selector);
      if (!node) throw new Error(`nothing rendered matches ${selector}`);
      node.dispatchEvent('tap');
    };
    page.close = () => {
      page.instance.onUnload();
      page.detach();
    };
    return page;
  };

  /** Wait until fn() is truthy and no request is in flight. */
  rt.until = async (fn, what, timeoutMs = 15000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = fn();
      if (v && rt.inflight === 0) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return rt;
}

module.exports = { createRuntime, ROOT };

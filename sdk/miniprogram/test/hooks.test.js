'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { test, setup, wireApp, UUID_V4 } = require('./helpers.js');
const { createEnv, installGlobals } = require('./fake-wx.js');
const { createHuoli } = require('../dist/huoli.js');

test('wrapApp: user hooks run with the app as `this`, get their arguments, keep return values; other fields kept', () => {
  const { env, hl } = setup();
  const calls = [];
  const appOptions = {
    globalData: { x: 1 },
    onLaunch(opts) {
      calls.push(['launch', this.globalData.x, opts.scene]);
      return 'L';
    },
    onShow(opts) {
      calls.push(['show', this, opts.path]);
      return 'S';
    },
    onHide() {
      calls.push(['hide', this]);
      return 'H';
    },
    onError(msg) {
      return 'E:' + msg;
    },
    helper() {
      return 'help';
    },
  };
  const wrapped = hl.wrapApp(appOptions);
  assert.notEqual(wrapped, appOptions, 'returns a new options object');
  assert.equal(appOptions.onLaunch.name, 'onLaunch', 'the caller\'s object is not mutated');
  env.App(wrapped);
  const app = env.appInstance;
  const launch = { path: 'pages/index/index', query: {}, scene: 1001 };
  assert.equal(app.onLaunch(launch), 'L');
  assert.equal(app.onShow(launch), 'S');
  assert.equal(app.onHide(), 'H');
  assert.equal(app.onError('boom'), 'E:boom');
  assert.equal(app.helper(), 'help');
  assert.deepEqual(app.globalData, { x: 1 });
  assert.deepEqual(calls, [
    ['launch', 1, 1001],
    ['show', app, 'pages/index/index'],
    ['hide', app],
  ]);
});

test('wrapPage: user hooks run with the page as `this`, with arguments and return values', async () => {
  const { env, hl } = setup();
  const seen = [];
  const pageOpts = wireApp(env, hl, {}, {
    data: { n: 1 },
    onLoad(query) {
      seen.push(['load', this.route, query.id]);
      return 'loaded';
    },
    onShow() {
      seen.push(['show', this.data.n]);
      return 'shown';
    },
    onReady() {
      seen.push(['ready', this]);
      return 'ready';
    },
    onHide() {
      seen.push(['hide']);
      return 'hidden';
    },
    onUnload() {
      seen.push(['unload']);
      return 'unloaded';
    },
    onShareAppMessage(res) {
      seen.push(['share', res.from, this.route]);
      return { title: 'T', path: '/pages/p/p' };
    },
    onPullDownRefresh() {
      return 'pdr';
    },
    tap(e) {
      return e.detail;
    },
  });
  const page = env.createPage(pageOpts, 'pages/p/p');
  assert.equal(page.onLoad({ id: '3' }), 'loaded');
  assert.equal(page.onShow(), 'shown');
  assert.equal(page.onReady(), 'ready');
  assert.equal(page.onShareAppMessage({ from: 'button' }).title, 'T');
  assert.equal(page.onHide(), 'hidden');
  assert.equal(page.onUnload(), 'unloaded');
  assert.equal(page.onPullDownRefresh(), 'pdr');
  assert.equal(page.tap({ detail: 9 }), 9);
  assert.deepEqual(seen, [
    ['load', 'pages/p/p', '3'],
    ['show', 1],
    ['ready', page],
    ['share', 'button', 'pages/p/p'],
    ['hide'],
    ['unload'],
  ]);
  await hl.flush();
  const names = env.sentEvents().map((e) => e.name);
  assert.deepEqual(names, ['page_view', 'perf', 'share', 'page_leave']);
});

test('wrapping twice does not double-track', async () => {
  const { env, hl } = setup();
  const opts = hl.wrapPage(hl.wrapPage({}));
  const page = env.openPage(opts, 'pages/a/a');
  page.onHide();
  await hl.flush();
  assert.deepEqual(env.sentEvents().map((e) => e.name), ['page_view', 'perf', 'page_leave']);
});

test('errors thrown by the user\'s own hooks still propagate (the SDK does not hide host bugs)', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl, {}, {
    onShow() {
      throw new Error('host bug');
    },
  });
  const page = env.createPage(pageOpts, 'pages/a/a');
  page.onLoad({});
  assert.throws(() => page.onShow(), /host bug/);
  await hl.flush();
  assert.deepEqual(env.sentEvents().map((e) => e.name), ['page_view'], 'tracking still happened');
});

test('SDK failures never propagate into host code', async () => {
  const env = createEnv();
  const { hl } = setup({}, { env });
  // sabotage everything the SDK touches
  env.wx.setStorageSync = () => {
    throw new Error('storage broken');
  };
  env.wx.getStorageSync = () => {
    throw new Error('storage broken');
  };
  env.wx.request = () => {
    throw new Error('request broken');
  };
  env.wx.getLaunchOptionsSync = () => {
    throw new Error('launch options broken');
  };
  let hostCalls = 0;
  const pageOpts = wireApp(env, hl, { onLaunch() { hostCalls++; }, onHide() { hostCalls++; } }, {
    onShow() {
      hostCalls++;
      return 'ok';
    },
    onShareAppMessage() {
      return { path: '/pages/a/a' };
    },
  });
  assert.doesNotThrow(() => env.appInstance.onLaunch());
  assert.doesNotThrow(() => env.appInstance.onShow(undefined));
  const weird = env.createPage(pageOpts, undefined); // no route at all
  assert.doesNotThrow(() => weird.onLoad(undefined));
  assert.equal(weird.onShow(), 'ok');
  assert.doesNotThrow(() => weird.onShareAppMessage());
  assert.doesNotThrow(() => pageOpts.onShow.call(null)); // even a null `this`
  assert.doesNotThrow(() => env.appInstance.onHide());
  assert.doesNotThrow(() => hl.track('x', { a: 1 }));
  assert.doesNotThrow(() => hl.identify('t', 'u'));
  assert.doesNotThrow(() => hl.reset());
  assert.equal(typeof hl.getAnonymousId(), 'string');
  const res = await hl.flush();
  assert.equal(res.ok, false);
  assert.equal(hostCalls, 4);

  // a clock that throws, circular properties
  const bad = setup({ now: () => { throw new Error('clock'); } });
  const circ = {};
  circ.self = circ;
  assert.doesNotThrow(() => bad.hl.track('circular', circ));
  assert.doesNotThrow(() => bad.hl.wrapPage(null));
});

test('init validates its config and never throws', () => {
  const env = createEnv();
  const hl = createHuoli({ wx: env.wx, console: { log() {}, warn() {}, error() {} } });
  assert.equal(hl.init(), false);
  assert.equal(hl.init({ appId: 'a' }), false);
  assert.equal(hl.init({ endpoint: 'https://x' }), false);
  assert.equal(hl.init({ appId: 'a', endpoint: 'https://x', flushInterval: 0 }), true);
  assert.equal(hl.init({ appId: 'a', endpoint: 'https://x' }), false, 'second init is ignored');
  const noWx = createHuoli({ console: { log() {}, warn() {}, error() {} } });
  const saved = global.wx;
  delete global.wx;
  try {
    assert.equal(noWx.init({ appId: 'a', endpoint: 'https://x' }), false);
  } finally {
    if (saved !== undefined) global.wx = saved;
  }
});

test('default export uses the global wx (require like a mini-program does)', async (t) => {
  // the default instance uses the global setTimeout: mock it so no real retry timer can outlive the test
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const env = createEnv();
  const restore = installGlobals(env);
  const modPath = path.join(__dirname, '..', 'dist', 'huoli.js');
  delete require.cache[modPath];
  try {
    const huoli = require(modPath);
    assert.equal(typeof huoli.createHuoli, 'function');
    for (const fn of ['init', 'wrapApp', 'wrapPage', 'track', 'identify', 'login', 'flush', 'reset', 'getAnonymousId']) {
      assert.equal(typeof huoli[fn], 'function', fn);
    }
    assert.equal(huoli.init({ appId: 'wx-global', endpoint: 'https://g.test', flushInterval: 0 }), true);
    App(huoli.wrapApp({})); // eslint-disable-line no-undef
    Page(huoli.wrapPage({})); // eslint-disable-line no-undef
    env.launch({ path: 'pages/index/index', query: {}, scene: 1001 });
    const page = env.openPage(env.pageOptions[0], 'pages/index/index');
    page.onHide();
    await huoli.flush();
    assert.equal(env.eventRequests()[0].header['X-Huoli-App-Id'], 'wx-global');
    assert.deepEqual(env.sentEvents().map((e) => e.name), ['app_launch', 'app_show', 'page_view', 'perf', 'page_leave']);
    assert.match(env.stored('huoli_anon_id'), UUID_V4);
  } finally {
    delete require.cache[modPath];
    restore();
  }
});

test('UUIDs use crypto.getRandomValues when present, Math.random fallback otherwise', async () => {
  let cryptoCalls = 0;
  const fakeCrypto = {
    getRandomValues(arr) {
      cryptoCalls++;
      arr.fill(0xff);
      return arr;
    },
  };
  const a = setup({}, { deps: { crypto: fakeCrypto } });
  assert.equal(a.hl.getAnonymousId(), 'ffffffff-ffff-4fff-bfff-ffffffffffff');
  assert.ok(cryptoCalls > 0);

  const b = setup({}, { deps: { crypto: null, random: () => 0 } });
  assert.equal(b.hl.getAnonymousId(), '00000000-0000-4000-8000-000000000000');

  const c = setup({}, { deps: { crypto: null } }); // real Math.random
  const seen = new Set();
  for (let i = 0; i < 200; i++) c.hl.track('e');
  await c.hl.flush();
  for (const e of c.env.sentEvents()) {
    assert.match(e.event_id, UUID_V4);
    seen.add(e.event_id);
  }
  assert.equal(seen.size, 200);
});

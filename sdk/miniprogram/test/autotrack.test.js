'use strict';
const assert = require('node:assert/strict');
const { test, setup, wireApp, UUID_V4 } = require('./helpers.js');

const byName = (events, name) => events.filter((e) => e.name === name);
const one = (events, name) => {
  const found = byName(events, name);
  assert.equal(found.length, 1, `expected exactly one ${name}, got ${found.length}`);
  return found[0];
};

async function sent(env, hl) {
  await hl.flush();
  await env.settle();
  return env.sentEvents();
}

test('app_launch / app_show carry scene, path, query, channel and shared envelope fields', async () => {
  const { env, hl } = setup();
  wireApp(env, hl);
  const t0 = env.clock.now();
  env.launch({ path: 'pages/index/index', query: { hl_channel: 'poster-a', x: '1' }, scene: 1047 });

  const events = await sent(env, hl);
  const launch = one(events, 'app_launch');
  const show = one(events, 'app_show');
  assert.deepEqual(launch.properties, { path: 'pages/index/index', query: { hl_channel: 'poster-a', x: '1' } });
  assert.deepEqual(show.properties, { path: 'pages/index/index' });
  for (const e of [launch, show]) {
    assert.match(e.event_id, UUID_V4);
    assert.equal(e.ts, t0);
    assert.ok(Number.isInteger(e.ts));
    assert.equal(e.scene, 1047);
    assert.equal(e.channel, 'poster-a');
    assert.equal(e.anonymous_id, hl.getAnonymousId());
    assert.match(e.session_id, UUID_V4);
    assert.equal(e.page, null);
    assert.deepEqual(Object.keys(e).sort(), [
      'anonymous_id', 'channel', 'event_id', 'name', 'page', 'properties', 'scene', 'session_id', 'ts',
    ]);
  }
  assert.equal(launch.session_id, show.session_id, 'first show after launch keeps the launch session');
  assert.notEqual(launch.event_id, show.event_id);
});

test('channel also comes from a plain `channel` query param, persists across launches, config is fallback', async () => {
  const { env, hl } = setup({ channel: 'default-ch' });
  wireApp(env, hl);
  env.launch({ path: 'pages/index/index', query: {}, scene: 1001 });
  hl.track('before_channel');
  const first = await sent(env, hl);
  assert.equal(one(first, 'before_channel').channel, 'default-ch');

  env.appHide();
  env.appShow({ path: 'pages/index/index', query: { channel: 'qr%20code' }, scene: 1011 });
  hl.track('after');
  let events = await sent(env, hl);
  assert.equal(one(events, 'after').channel, 'qr code');
  assert.equal(one(events, 'after').scene, 1011, 'scene is the latest show scene');

  // "restart": new instance over the same storage keeps the persisted channel
  const again = setup({}, { env: Object.assign(env, { requests: [] }) });
  again.hl.track('restarted');
  events = await sent(env, again.hl);
  assert.equal(one(events, 'restarted').channel, 'qr code');
});

test('app_hide reports integer foreground duration and flushes immediately', async () => {
  const { env, hl } = setup({ flushInterval: 60000, batchSize: 50 });
  wireApp(env, hl);
  env.launch();
  env.clock.advance(12345);
  env.appHide();
  await env.settle();
  assert.equal(env.eventRequests().length, 1, 'app_hide triggers a flush without waiting for the timer');
  const hide = one(env.sentEvents(), 'app_hide');
  assert.deepEqual(hide.properties, { duration_ms: 12345 });
  assert.ok(Number.isInteger(hide.properties.duration_ms));

  // duration is measured from the latest show, not from launch
  env.clock.advance(40000);
  env.appShow();
  env.clock.advance(2000);
  env.appHide();
  await env.settle();
  const hides = byName(env.sentEvents(), 'app_hide');
  assert.equal(hides.length, 2);
  assert.equal(hides[1].properties.duration_ms, 2000);
});

test('session rotates after >= sessionTimeout in background, not before', async () => {
  const { env, hl } = setup();
  wireApp(env, hl);
  env.launch();
  const s1 = hl.getSessionId();

  env.clock.advance(1000);
  env.appHide();
  env.clock.advance(29999);
  env.appShow();
  assert.equal(hl.getSessionId(), s1, '29.999 s in background keeps the session');

  env.appHide();
  env.clock.advance(30000);
  env.appShow();
  const s2 = hl.getSessionId();
  assert.notEqual(s2, s1, '30 s in background starts a new session');
  assert.match(s2, UUID_V4);

  const shows = byName(await sent(env, hl), 'app_show');
  assert.deepEqual(shows.map((e) => e.session_id), [s1, s1, s2]);
  const hides = byName(env.sentEvents(), 'app_hide');
  assert.deepEqual(hides.map((e) => e.session_id), [s1, s1], 'app_hide belongs to the ending session');
});

test('sessionTimeout is configurable', () => {
  const { env, hl } = setup({ sessionTimeout: 5000 });
  wireApp(env, hl);
  env.launch();
  const s1 = hl.getSessionId();
  env.appHide();
  env.clock.advance(5000);
  env.appShow();
  assert.notEqual(hl.getSessionId(), s1);
});

test('page_view / perf / page_leave with route, query, referrer and dwell durations', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl);
  env.launch();

  env.clock.advance(100);
  const home = env.openPage(pageOpts, 'pages/index/index', { tab: 'hot' }, 230);
  env.clock.advance(4000);
  // navigateTo detail: home hides, detail loads
  home.onHide();
  const detail = env.createPage(pageOpts, 'pages/item/detail', { legacy: true }); // __route__ fallback
  detail.onLoad({ id: '42' });
  env.clock.advance(20);
  detail.onShow();
  env.clock.advance(55);
  detail.onReady(); // load_ms counts from onLoad (75), dwell from onShow
  env.clock.advance(1500);
  detail.onUnload(); // navigateBack: only onUnload
  home.onShow();
  env.clock.advance(10);
  home.onHide();
  home.onUnload(); // already left: must not produce a second page_leave

  const events = await sent(env, hl);
  const views = byName(events, 'page_view');
  assert.deepEqual(
    views.map((e) => [e.page, e.properties]),
    [
      ['pages/index/index', { query: { tab: 'hot' }, referrer_page: null }],
      ['pages/item/detail', { query: { id: '42' }, referrer_page: 'pages/index/index' }],
      ['pages/index/index', { query: { tab: 'hot' }, referrer_page: 'pages/item/detail' }],
    ]
  );
  const perfs = byName(events, 'perf');
  assert.deepEqual(
    perfs.map((e) => [e.page, e.properties]),
    [
      ['pages/index/index', { load_ms: 230 }],
      ['pages/item/detail', { load_ms: 75 }],
    ]
  );
  const leaves = byName(events, 'page_leave');
  assert.deepEqual(
    leaves.map((e) => [e.page, e.properties]),
    [
      ['pages/index/index', { duration_ms: 4230 }],
      ['pages/item/detail', { duration_ms: 1555 }],
      ['pages/index/index', { duration_ms: 10 }],
    ]
  );
  for (const e of [...perfs, ...leaves]) {
    const v = e.properties.load_ms ?? e.properties.duration_ms;
    assert.ok(Number.isInteger(v), `${e.name} value must be an integer`);
  }
  // custom events get the current page
  hl.track('add_to_cart', { item_id: 'sku-1', amount_fen: 990 });
  const custom = one(await sent(env, hl), 'add_to_cart');
  assert.equal(custom.page, 'pages/index/index');
  assert.deepEqual(custom.properties, { item_id: 'sku-1', amount_fen: 990 });
});

test('going to background closes the open page view before app_hide (page onHide after that is a no-op)', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl);
  env.launch();
  const page = env.openPage(pageOpts, 'pages/index/index');
  env.clock.advance(3000);
  env.appHide();
  page.onHide();
  await env.settle();
  const names = env.sentEvents().map((e) => e.name);
  assert.deepEqual(names, ['app_launch', 'app_show', 'page_view', 'perf', 'page_leave', 'app_hide']);
  assert.equal(one(env.sentEvents(), 'page_leave').properties.duration_ms, 3000);

  // coming back: new page_view for the same page
  env.clock.advance(1000);
  env.appShow();
  page.onShow();
  const events = await sent(env, hl);
  assert.equal(byName(events, 'page_view').length, 2);
  assert.equal(byName(events, 'page_leave').length, 1);
});

test('perf is tracked once per page instance', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl);
  const page = env.openPage(pageOpts, 'pages/a/a', {}, 50);
  page.onReady();
  assert.equal(byName(await sent(env, hl), 'perf').length, 1);
});

test('events tracked before init are buffered and sent after init', async () => {
  const { env, hl } = setup({}, { init: false });
  wireApp(env, hl);
  env.launch({ path: 'pages/index/index', query: {}, scene: 1089 });
  hl.track('early');
  assert.equal(env.requests.length, 0);
  hl.init({ appId: 'wx-test-app', endpoint: 'https://api.huoli.test', now: env.clock.now, flushInterval: 0 });
  await env.settle();
  assert.deepEqual(env.sentEvents().map((e) => e.name), ['app_launch', 'app_show', 'early']);
  assert.equal(env.sentEvents()[0].scene, 1089);
});

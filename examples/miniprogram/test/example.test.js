'use strict';
// The example mini-program against a real `huoli serve` on 127.0.0.1 (test/server.py; logins go through huoli
// to the fake WeChat server the Python suite uses): its pages render with WeChat's WXML compiler in
// miniprogram-simulate, and each tap goes through the SDK and wx.request to the server. Nothing between the
// page and the database is mocked.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const { test, before, after } = require('node:test');
const { createRuntime, ROOT } = require('./harness.js');
const { seed } = require('../scripts/seed.js');

const REPO = path.join(ROOT, '..', '..');
const PYTHON = process.env.HUOLI_PYTHON || path.join(REPO, '.venv', 'bin', 'python');

let server;
let info;

before(async () => {
  server = spawn(PYTHON, [path.join(__dirname, 'server.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((_, reject) => server.once('exit', (c) => reject(new Error(`server.py exited (${c})`))));
  const line = new Promise((resolve) => readline.createInterface({ input: server.stdout }).once('line', resolve));
  info = JSON.parse(await Promise.race([line, exited]));
});

after(() => {
  if (server) server.stdin.end(); // server.py stops huoli serve when its input closes
});

async function admin(pathname) {
  const res = await fetch(info.endpoint + pathname, { headers: { Authorization: 'Bearer ' + info.operatorKey } });
  assert.equal(res.status, 200, `${pathname}: ${await res.clone().text()}`);
  return res.json();
}

test('the example logs in, tracks, checks in, claims a coupon, tries a flash sale and reads flags', { timeout: 120000 }, async () => {
  const seeded = await seed({ endpoint: info.endpoint, key: info.operatorKey });
  // Configured as the README says: the mini-program's own WeChat AppID, not the huoli app id.
  Object.assign(require('../config.js'), { endpoint: info.endpoint, appId: info.wxAppId });

  const rt = createRuntime({ codes: info.codes.slice() });
  rt.launch();
  const home = rt.open('pages/index/index');

  // First render: the banner flag, the claimable coupon and the running flash sale, all from the server.
  await rt.until(() => home.all('.template').length && home.all('.flash-item').length, 'offers');
  await rt.until(() => home.text('#banner') === '新人专享：每日签到送积分', 'the banner flag');
  assert.match(home.text('.template'), /新人 5 元券（减 ¥5\.00）/);
  assert.match(home.text('.flash-item'), /tea-500g ¥9\.90 剩 10/);
  assert.equal(home.text('#user'), null, 'not logged in yet');

  home.tap('#login');
  await rt.until(() => home.text('#points') !== null, 'login');
  assert.match(home.text('#user'), /^用户 u_/);
  assert.equal(home.text('#points'), '积分 0');

  home.tap('#checkin');
  await rt.until(() => home.text('#streak'), 'check-in');
  assert.equal(home.text('#status'), '签到成功 +5 积分');
  await rt.until(() => home.text('#points') === '积分 5', 'points after the check-in');
  home.tap('#checkin');
  await rt.until(() => home.text('#status') === '今天已经签到过了', 'a second check-in the same day');

  home.tap('.claim');
  await rt.until(() => home.all('.coupon').length === 1, 'a claimed coupon');
  assert.equal(home.text('.coupon'), '已领：welcome-5');
  home.tap('.claim');
  await rt.until(() => home.text('#error'), 'the second claim refused');
  assert.match(home.text('#error'), /^领券失败：per_user_limit/);

  home.tap('.grab');
  await rt.until(() => home.text('#reservation'), 'a flash-sale reservation');
  await rt.until(() => /剩 9/.test(home.text('.flash-item')), 'the stock after the win');
  home.tap('.grab');
  await rt.until(() => /already_attempted/.test(home.text('#error') || ''), 'a second attempt refused');

  // A share card carries the sharer and a share id.
  const card = home.instance.onShareAppMessage();
  assert.match(card.path, /^\/pages\/index\/index\?hl_sharer=u_[^&]+&hl_share_id=[0-9a-f-]{36}$/);

  // The item page: opened from the flash-sale row, add to cart is a client event.
  home.tap('.open-item');
  await rt.until(() => rt.navigations.length, 'navigateTo');
  assert.deepEqual(rt.navigations, ['/pages/item/item?id=tea-500g']);
  home.instance.onHide();
  const item = rt.open('pages/item/item', { id: 'tea-500g' });
  assert.equal(item.text('#title'), '商品 tea-500g');
  item.tap('#add');
  await rt.until(() => item.text('#added') === '已加入购物车', 'add to cart');

  rt.app.onHide.call(rt.app); // to the background: the SDK flushes
  const flushed = await require('huoli-miniprogram-sdk').flush();
  assert.deepEqual(flushed, { ok: true, pending: 0 });
  assert.equal(rt.app.globalData.lastDeliveryError, null, 'onError never fired');

  // Every call carried the WeChat AppID and the server took it (issue 23: it answered 404 unknown_app).
  const eventPosts = rt.requests.filter((r) => r.url === info.endpoint + '/v1/events');
  assert.ok(eventPosts.length >= 1);
  for (const r of rt.requests) assert.equal(r.header['X-Huoli-App-Id'], info.wxAppId, r.url);
  for (const r of eventPosts) {
    assert.equal(r.status, 200);
    assert.deepEqual(r.response.rejected, [], 'the server rejected an event the example sends');
  }

  // What the server stored for the huoli app, client events and the ones its flows wrote.
  const want = ['app_launch', 'app_show', 'page_view', 'perf', 'page_leave', 'share', 'view_item', 'add_to_cart',
    'app_hide', 'login', 'checkin', 'coupon_claimed'];
  let names = new Set();
  const deadline = Date.now() + 15000; // server-side events arrive through the outbox relay
  while (Date.now() < deadline) {
    const recent = await admin('/admin/events/recent?limit=500');
    names = new Set(recent.map((e) => e.name));
    if (want.every((n) => names.has(n))) {
      const views = recent.filter((e) => e.name === 'page_view').map((e) => e.page).sort();
      assert.deepEqual(views, ['pages/index/index', 'pages/item/item']);
      const cart = recent.find((e) => e.name === 'add_to_cart');
      assert.equal(cart.user_id, home.text('#user').replace('用户 ', ''));
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(want.filter((n) => !names.has(n)), [], 'events missing on the server');
  const flashItem = await admin('/admin/promotions/flash/items/' + seeded.flashItemId);
  assert.match(JSON.stringify(flashItem), /"stock":9/);
});

'use strict';
// Issue 23: a wrong appId made the server answer 404 unknown_app, the SDK dropped every batch and flush()
// resolved {ok: true}. A failed delivery must be loud: flush() result, onError, console.warn on a 4xx.
const assert = require('node:assert/strict');
const { test, setup, storedQueue, APP_ID, ENDPOINT } = require('./helpers.js');
const { acceptAll } = require('./fake-wx.js');

function capture() {
  const lines = { log: [], warn: [], error: [] };
  const con = {};
  for (const k of Object.keys(lines)) con[k] = (...args) => lines[k].push(args.map(String).join(' '));
  return { con, lines };
}

const unknownApp = () => ({
  status: 404,
  body: { code: 'unknown_app', message: "unknown app 'wx-test-app'", details: null },
});

test('404 unknown_app: flush() resolves ok:false with the error; warned without debug; onError called; not retried', async () => {
  const { con, lines } = capture();
  const seen = [];
  const { env, hl } = setup({ onError: (e) => seen.push(e) }, { deps: { console: con } });
  env.handler = unknownApp;
  hl.track('a');
  hl.track('b');
  const res = await hl.flush();
  assert.equal(res.ok, false);
  assert.equal(res.pending, 0);
  assert.ok(res.error instanceof Error);
  assert.equal(res.error.statusCode, 404);
  assert.equal(res.error.code, 'unknown_app');
  assert.equal(res.error.kind, 'refused');
  assert.equal(res.error.dropped, 2);
  assert.equal(res.error.willRetry, false);
  assert.match(res.error.message, /HTTP 404 unknown_app/);
  assert.match(res.error.message, /AppID \(wx…\)/, 'the message says what appId should be');
  assert.equal(seen.length, 1);
  assert.equal(seen[0], res.error);
  assert.equal(lines.warn.length, 1, 'a refusal is warned even with debug off');
  assert.match(lines.warn[0], /^\[huoli\] huoli: events not delivered: HTTP 404 unknown_app/);
  // Dropped, and never sent again: a refusal is the same on every retry.
  assert.deepEqual(storedQueue(env), []);
  env.clock.advance(10 * 60 * 1000);
  await env.settle();
  assert.equal(env.requests.length, 1);
  assert.deepEqual(env.clock.pending(), []);
});

test('the next flush() after a failure reports its own outcome', async () => {
  const { env, hl } = setup();
  env.handler = unknownApp;
  hl.track('a');
  assert.equal((await hl.flush()).ok, false);
  env.handler = acceptAll;
  hl.track('b');
  assert.deepEqual(await hl.flush(), { ok: true, pending: 0 });
});

test('5xx and network failures: kept and retried with backoff; onError says willRetry; no warning without debug', async () => {
  for (const failure of [{ status: 503, body: { code: 'busy', message: 'try later' } }, { networkError: 'request:fail timeout' }]) {
    const { con, lines } = capture();
    const seen = [];
    const { env, hl } = setup({ onError: (e) => seen.push(e) }, { deps: { console: con } });
    let n = 0;
    env.handler = (req) => (++n <= 2 ? failure : acceptAll(req));
    hl.track('a');
    const res = await hl.flush();
    assert.equal(res.ok, false);
    assert.equal(res.pending, 1);
    assert.equal(res.error.willRetry, true);
    assert.equal(res.error.dropped, 0);
    if (failure.status) {
      assert.equal(res.error.statusCode, 503);
      assert.equal(res.error.code, 'busy');
      assert.equal(res.error.kind, 'retrying');
    } else {
      assert.equal(res.error.statusCode, null);
      assert.equal(res.error.kind, 'network');
      assert.match(res.error.message, /request:fail timeout/);
    }
    assert.deepEqual(env.clock.pending(), [1000]);
    env.clock.advance(1000);
    await env.settle();
    assert.deepEqual(env.clock.pending(), [2000], 'backoff doubles');
    env.clock.advance(2000);
    await env.settle();
    assert.deepEqual(storedQueue(env), [], 'delivered on the third attempt');
    assert.equal(seen.length, 2, 'onError once per failed attempt');
    assert.deepEqual(lines.warn, [], 'a transient failure is not warned without debug');
  }
});

test('429 is retried (not dropped) but warned', async () => {
  const { con, lines } = capture();
  const { env, hl } = setup({}, { deps: { console: con } });
  env.handler = () => ({ status: 429, header: { 'Retry-After': '3' }, body: { code: 'rate_limited', message: 'slow down' } });
  hl.track('a');
  const res = await hl.flush();
  assert.equal(res.ok, false);
  assert.equal(res.pending, 1);
  assert.equal(res.error.willRetry, true);
  assert.deepEqual(env.clock.pending(), [3000]);
  assert.equal(lines.warn.length, 1);
});

test('an onError that throws does not break delivery', async () => {
  const { env, hl } = setup({
    onError() {
      throw new Error('host bug');
    },
  });
  env.handler = unknownApp;
  hl.track('a');
  const res = await hl.flush();
  assert.equal(res.error.code, 'unknown_app');
  env.handler = acceptAll;
  hl.track('b');
  assert.deepEqual(await hl.flush(), { ok: true, pending: 0 });
});

test('request(): app header, device id and token; resolves the body of a 2xx', async () => {
  const { env, hl } = setup();
  hl.identify('tok-1', 'u_1');
  env.handler = (req) => ({ status: 200, body: { checked_in: true, echo: req.data || null } });
  const body = await hl.request({ path: '/v1/loyalty/checkin', method: 'post' });
  assert.deepEqual(body, { checked_in: true, echo: null });
  const req = env.requests[0];
  assert.equal(req.url, ENDPOINT + '/v1/loyalty/checkin');
  assert.equal(req.method, 'POST');
  assert.equal(req.header['X-Huoli-App-Id'], APP_ID);
  assert.equal(req.header['X-Huoli-Device-Id'], hl.getAnonymousId());
  assert.equal(req.header.Authorization, 'Bearer tok-1');
  await hl.request({ path: '/v1/promotions/coupons/claim', method: 'POST', data: { template_id: 't', request_id: 'r' } });
  assert.deepEqual(env.requests[1].data, { template_id: 't', request_id: 'r' });
});

test('request(): a non-2xx rejects with statusCode and the server code; a 401 clears the token', async () => {
  const { con, lines } = capture();
  const { env, hl } = setup({}, { deps: { console: con } });
  hl.identify('tok-1', 'u_1');
  env.handler = () => ({ status: 409, body: { code: 'sold_out', message: 'no stock left' } });
  await assert.rejects(hl.request({ path: '/v1/promotions/flash/items/f1/attempt', method: 'POST', data: {} }), (e) => {
    assert.equal(e.statusCode, 409);
    assert.equal(e.code, 'sold_out');
    return true;
  });
  assert.equal(lines.warn.length, 0, 'a 409 is a business answer, not a misconfiguration');
  env.handler = () => ({ status: 401, body: { code: 'revoked_token', message: 'revoked' } });
  await assert.rejects(hl.request({ path: '/v1/loyalty/points' }), (e) => e.code === 'revoked_token');
  assert.equal(hl.getUserId(), null);
  assert.equal(lines.warn.length, 1);
  env.handler = () => ({ networkError: 'request:fail offline' });
  await assert.rejects(hl.request({ path: '/v1/loyalty/points' }), (e) => e.code === 'network' && e.statusCode === null);
  await assert.rejects(hl.request({ path: 'v1/no-slash' }), /path must start/);
});

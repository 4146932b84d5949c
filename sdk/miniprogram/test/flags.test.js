'use strict';
const assert = require('node:assert/strict');
const { test, setup, APP_ID, ENDPOINT } = require('./helpers.js');
const { acceptAll, createEnv } = require('./fake-wx.js');

function flagsServer({ flags = { dark_mode: true, layout: 'feed' }, ttl = 60, status = 200 } = {}) {
  let calls = 0;
  const handler = (req) => {
    if (req.url.startsWith(`${ENDPOINT}/v1/flags`)) {
      calls++;
      if (status !== 200) return { status, body: { code: 'x' } };
      return {
        status: 200,
        body: { flags, experiments: { 'layout-test': 'b' }, preferences: null, ttl_s: ttl, evaluated_at: 'now' },
      };
    }
    if (req.url === `${ENDPOINT}/v1/auth/wechat`) {
      return { status: 200, body: { token: 'tok-1', user_id: 'user-1', expires_at: '2099-01-01T00:00:00Z' } };
    }
    return acceptAll(req);
  };
  return { handler, calls: () => calls };
}

test('getFlags(): GET /v1/flags with app id and anonymous id, cached in wx storage for the TTL', async () => {
  const { env, hl } = setup();
  const server = flagsServer();
  env.handler = server.handler;
  const view = await hl.getFlags();
  assert.deepEqual(view.flags, { dark_mode: true, layout: 'feed' });
  assert.deepEqual(view.experiments, { 'layout-test': 'b' });
  assert.equal(view.stale, false);
  const req = env.requests[0];
  assert.equal(req.method, 'GET');
  assert.equal(req.header['X-Huoli-App-Id'], APP_ID);
  assert.equal(req.url, `${ENDPOINT}/v1/flags?anonymous_id=${encodeURIComponent(hl.getAnonymousId())}`);
  assert.deepEqual(env.stored('huoli_flags').flags, view.flags);

  assert.equal(await hl.getFlag('layout', 'grid'), 'feed');
  assert.equal(await hl.getFlag('missing', 42), 42);
  assert.equal(hl.peekFlag('dark_mode', false), true);
  assert.equal(server.calls(), 1, 'served from cache within the TTL');

  env.clock.advance(61_000);
  await hl.getFlags();
  assert.equal(server.calls(), 2, 'refetched after the TTL');
});

test('concurrent getFlags() calls share one request; force refetches', async () => {
  const { env, hl } = setup();
  const server = flagsServer();
  env.handler = server.handler;
  const [a, b] = await Promise.all([hl.getFlags(), hl.getFlags()]);
  assert.deepEqual(a, b);
  assert.equal(server.calls(), 1);
  await hl.getFlags({ force: true });
  assert.equal(server.calls(), 2);
});

test('attributes are sent as JSON in the query and bypass the cache', async () => {
  const { env, hl } = setup();
  const server = flagsServer();
  env.handler = server.handler;
  await hl.getFlags({ attributes: { segment: ['vip'] } });
  const url = new URL(env.requests[0].url);
  assert.deepEqual(JSON.parse(url.searchParams.get('attributes')), { segment: ['vip'] });
});

test('offline: a failed fetch serves the last cached flags (stale), and {} without any cache', async () => {
  const env = createEnv();
  const first = setup({}, { env });
  env.handler = flagsServer({ ttl: 1 }).handler;
  await first.hl.getFlags();

  env.handler = () => ({ networkError: 'request:fail timeout' });
  env.clock.advance(5_000);
  const restarted = setup({}, { env }); // a cold start reads the storage cache
  const view = await restarted.hl.getFlags();
  assert.equal(view.stale, true);
  assert.equal(view.flags.layout, 'feed');
  assert.equal(await restarted.hl.getFlag('layout', 'grid'), 'feed');

  const fresh = setup(); // new device, offline, nothing cached
  fresh.env.handler = () => ({ status: 503, body: {} });
  const empty = await fresh.hl.getFlags();
  assert.deepEqual(empty.flags, {});
  assert.equal(await fresh.hl.getFlag('layout', 'grid'), 'grid');
});

test('login changes identity: cached anonymous flags are not served to the user; token is sent', async () => {
  const { env, hl } = setup();
  const server = flagsServer();
  env.handler = server.handler;
  await hl.getFlags();
  await hl.login();
  await hl.getFlags();
  assert.equal(server.calls(), 2);
  const last = env.requests.filter((r) => r.url.includes('/v1/flags')).at(-1);
  assert.equal(last.header.Authorization, 'Bearer tok-1');
});

test('setPreferences(): PUT /v1/preferences with the token; requires login', async () => {
  const { env, hl } = setup();
  await assert.rejects(hl.setPreferences({ theme: 'dark' }), /login/);
  const server = flagsServer();
  env.handler = (req) => {
    if (req.url.endsWith('/v1/preferences')) {
      return { status: 200, body: { font_size: null, units: null, theme: req.data.theme, updated_at: 'now' } };
    }
    return server.handler(req);
  };
  await hl.login();
  await hl.getFlags();
  const prefs = await hl.setPreferences({ theme: 'dark' });
  assert.equal(prefs.theme, 'dark');
  const put = env.requests.find((r) => r.url.endsWith('/v1/preferences'));
  assert.equal(put.method, 'PUT');
  assert.equal(put.header.Authorization, 'Bearer tok-1');
  await hl.getFlags();
  assert.equal(server.calls(), 2, 'flags refetched after a preference change');
});

test('getFlags() before init resolves empty instead of throwing', async () => {
  const { hl } = setup({}, { init: false });
  const view = await hl.getFlags();
  assert.deepEqual(view.flags, {});
  assert.equal(hl.peekFlag('x', 1), 1);
});

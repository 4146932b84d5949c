'use strict';
const assert = require('node:assert/strict');
const { test, setup, APP_ID, UUID_V4 } = require('./helpers.js');
const { acceptAll, createEnv } = require('./fake-wx.js');

function authServer({ status = 200, expiresAt = '2099-01-01T00:00:00Z' } = {}) {
  return (req) => {
    if (req.url.endsWith('/v1/auth/wechat')) {
      if (status !== 200) return { status, body: { detail: 'bad code' } };
      return { status: 200, body: { token: `tok-for-${req.data.code}`, user_id: 'user-1', expires_at: expiresAt } };
    }
    return acceptAll(req);
  };
}

test('anonymous id: UUID v4, persisted under huoli_anon_id, created once', () => {
  const env = createEnv();
  const { hl } = setup({}, { env });
  const id = hl.getAnonymousId();
  assert.match(id, UUID_V4);
  assert.equal(env.stored('huoli_anon_id'), id);
  assert.equal(hl.getAnonymousId(), id);
  const other = setup({}, { env });
  assert.equal(other.hl.getAnonymousId(), id, 'a second instance reuses the stored id');
});

test('login(): wx.login code is exchanged, token stored, later requests carry Authorization', async () => {
  const { env, hl } = setup();
  env.handler = authServer();
  const res = await hl.login();
  assert.deepEqual(res, { userId: 'user-1', expiresAt: '2099-01-01T00:00:00Z' });

  const authReq = env.requests[0];
  assert.equal(authReq.url, 'https://api.huoli.test/v1/auth/wechat');
  assert.equal(authReq.method, 'POST');
  assert.equal(authReq.header['X-Huoli-App-Id'], APP_ID);
  assert.equal(authReq.header.Authorization, undefined);
  assert.deepEqual(authReq.data, { code: 'wxcode-1', anonymous_id: hl.getAnonymousId() });

  assert.equal(hl.getUserId(), 'user-1');
  assert.equal(env.stored('huoli_auth').token, 'tok-for-wxcode-1');
  assert.equal(env.stored('huoli_auth').user_id, 'user-1');

  hl.track('after_login');
  await hl.flush();
  const evReq = env.eventRequests()[0];
  assert.equal(evReq.header.Authorization, 'Bearer tok-for-wxcode-1');
  assert.equal(evReq.header['X-Huoli-App-Id'], APP_ID);

  // token survives a restart
  const again = setup({}, { env });
  assert.equal(again.hl.getUserId(), 'user-1', 'user id restored from storage on a fresh instance');
  again.hl.track('restarted');
  await again.hl.flush();
  assert.equal(env.eventRequests().at(-1).header.Authorization, 'Bearer tok-for-wxcode-1');
});

test('login() rejects on a non-200 auth response or wx.login failure, without changing auth state', async () => {
  const { env, hl } = setup();
  env.handler = authServer({ status: 400 });
  await assert.rejects(hl.login(), (e) => e.statusCode === 400 && /HTTP 400/.test(e.message));
  assert.equal(env.stored('huoli_auth'), undefined);
  env.loginFails = true;
  await assert.rejects(hl.login(), /wx\.login/);
  env.loginFails = false;
  env.handler = () => ({ networkError: 'request:fail timeout' });
  await assert.rejects(hl.login(), /request:fail/);
  assert.equal(hl.getUserId(), null);
});

test('login() before init rejects', async () => {
  const { hl } = setup({}, { init: false });
  await assert.rejects(hl.login(), /init/);
});

test('an expired token (expires_at in the past by the SDK clock) is not sent', async () => {
  const { env, hl } = setup();
  env.handler = authServer({ expiresAt: new Date(env.clock.now() + 60000).toISOString() });
  await hl.login();
  hl.track('a');
  await hl.flush();
  assert.equal(env.eventRequests()[0].header.Authorization, 'Bearer tok-for-wxcode-1');
  env.clock.advance(60000);
  hl.track('b');
  await hl.flush();
  assert.equal(env.eventRequests()[1].header.Authorization, undefined);
  assert.equal(env.stored('huoli_auth'), undefined);
});

test('identify(token, userId) sets the bearer token; identify(null) clears it', async () => {
  const { env, hl } = setup();
  hl.identify('server-token', 'u-42');
  assert.equal(hl.getUserId(), 'u-42');
  hl.track('a');
  await hl.flush();
  assert.equal(env.eventRequests()[0].header.Authorization, 'Bearer server-token');
  hl.identify(null);
  hl.track('b');
  await hl.flush();
  assert.equal(env.eventRequests()[1].header.Authorization, undefined);
  assert.equal(hl.getUserId(), null);
});

test('reset(): clears token and user, new anonymous id and session; queued events are kept', async () => {
  const { env, hl } = setup();
  env.handler = () => ({ networkError: 'request:fail' });
  hl.identify('t', 'u');
  const anon = hl.getAnonymousId();
  const session = hl.getSessionId();
  hl.track('before_reset');
  hl.reset();
  assert.notEqual(hl.getAnonymousId(), anon);
  assert.match(hl.getAnonymousId(), UUID_V4);
  assert.equal(env.stored('huoli_anon_id'), hl.getAnonymousId());
  assert.notEqual(hl.getSessionId(), session);
  assert.equal(hl.getUserId(), null);
  assert.equal(env.stored('huoli_auth'), undefined);
  hl.track('after_reset');
  env.handler = acceptAll;
  await hl.flush();
  const [a, b] = env.sentEvents().slice(-2);
  assert.equal(a.anonymous_id, anon);
  assert.equal(b.anonymous_id, hl.getAnonymousId());
  assert.equal(env.eventRequests().at(-1).header.Authorization, undefined);
});

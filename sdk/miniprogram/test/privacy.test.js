'use strict';
// WeChat's privacy authorisation (用户隐私保护指引) and consent records: events wait for the authorisation,
// the page's own pop-up resolves it, a "yes" is recorded once, base libraries without the APIs run as before.
const assert = require('node:assert/strict');
const { test, setup } = require('./helpers.js');
const { acceptAll, createEnv } = require('./fake-wx.js');

/** A server for events, logins and consents; `consentStatus` answers the consent posts. */
function server({ consentStatus = 200 } = {}) {
  return (req) => {
    if (req.url.endsWith('/v1/auth/wechat')) {
      return { status: 200, body: { token: `tok-${req.data.code}`, user_id: 'user-1', expires_at: '2099-01-01T00:00:00Z' } };
    }
    if (req.url.endsWith('/v1/privacy/consents')) {
      if (consentStatus === 'down') return { networkError: 'request:fail timeout' };
      if (consentStatus !== 200) return { status: consentStatus, body: { code: 'validation_failed', details: [] } };
      const consents = req.data.consents.map((c) => ({ ...c, allowed: c.granted }));
      return { status: 200, body: { user_id: 'user-1', consents, recorded: consents.length } };
    }
    return acceptAll(req);
  };
}

function privacyEnv(privacy = {}, opts = {}) {
  const env = createEnv({ privacy, ...opts });
  env.handler = server();
  return env;
}

const names = (env) => env.sentEvents().map((e) => e.name);
const sentConsents = (env) => env.consentRequests().flatMap((r) => r.data.consents);

test('no privacy APIs (older base library): authorised at once, events sent, nothing to record', async () => {
  const { env, hl } = setup();
  assert.equal(hl.privacy.isAuthorised(), true);
  assert.equal(hl.privacy.getState(), 'authorised');
  assert.equal(hl.privacy.onNeedAuthorization(() => {}), false);
  assert.deepEqual(await hl.privacy.requireAuthorize(), { authorised: true, supported: false });
  assert.deepEqual(await hl.privacy.getSetting(), { supported: false, needAuthorization: false, privacyContractName: null });
  hl.track('hello');
  assert.deepEqual(await hl.flush(), { ok: true, pending: 0 });
  assert.deepEqual(names(env), ['hello']);
  assert.equal(env.consentRequests().length, 0);
});

test('needAuthorization: events are held in memory until the page pop-up agrees, then sent with the consent', async () => {
  const env = privacyEnv({ needAuthorization: true });
  const { hl } = setup({ policyVersion: '2026-12-01' }, { env });
  hl.identify('tok-1', 'user-1');
  const prompts = [];
  assert.equal(
    hl.privacy.onNeedAuthorization((resolve, info) => {
      prompts.push({ resolve, info });
      resolve({ event: 'exposureAuthorization' }); // the pop-up is on screen
    }),
    true
  );
  hl.track('before_setting'); // getPrivacySetting has not answered yet: held too
  await env.settle();
  assert.equal(hl.privacy.getState(), 'required');
  hl.track('item_view', { item_id: 'sku-1' });
  const flushed = await hl.flush();
  assert.deepEqual(flushed, { ok: false, pending: 2 });
  assert.equal(env.eventRequests().length, 0, 'nothing left the device');
  assert.deepEqual(env.stored('huoli_queue') || [], []);

  const asked = hl.privacy.requireAuthorize();
  await env.settle();
  assert.equal(prompts.length, 1);
  assert.equal(prompts[0].info.referrer, 'requirePrivacyAuthorize');
  prompts[0].resolve({ event: 'agree', buttonId: 'agree-btn' });
  assert.deepEqual(await asked, { authorised: true, supported: true });
  await hl.flush();
  await env.settle();
  assert.equal(hl.privacy.isAuthorised(), true);
  assert.deepEqual(names(env), ['before_setting', 'item_view']);
  assert.deepEqual(sentConsents(env), [{ purpose: 'privacy_policy', granted: true, policy_version: '2026-12-01' }]);
  assert.equal(env.consentRequests()[0].header.Authorization, 'Bearer tok-1');

  // Asked again later (already authorised): no second record of the same decision.
  assert.deepEqual(await hl.privacy.requireAuthorize(), { authorised: true, supported: true });
  await env.settle();
  assert.equal(env.consentRequests().length, 1);
  assert.equal(prompts.length, 1);
  assert.equal(env.privacyScopedCalls, 0, 'the SDK never calls a privacy-scoped API itself');
});

test('disagree: the held events are dropped, new ones too, no record is sent; a later agree resumes', async () => {
  const env = privacyEnv({ needAuthorization: true });
  const { hl } = setup({}, { env });
  hl.identify('tok-1', 'user-1');
  let answer = 'disagree';
  hl.privacy.onNeedAuthorization((resolve) => resolve({ event: answer }));
  await env.settle();
  hl.track('held_then_dropped');
  const r = await hl.privacy.requireAuthorize();
  assert.equal(r.authorised, false);
  assert.match(r.errMsg, /not authorized/);
  assert.equal(hl.privacy.getState(), 'refused');
  hl.track('dropped_too');
  assert.deepEqual(await hl.flush(), { ok: false, pending: 0 });

  answer = 'agree';
  assert.equal((await hl.privacy.requireAuthorize()).authorised, true);
  hl.track('after_agree');
  await hl.flush();
  await env.settle();
  assert.deepEqual(names(env), ['after_agree']);
  assert.deepEqual(sentConsents(env).map((c) => [c.purpose, c.granted, c.policy_version]), [['privacy_policy', true, 'unversioned']]);
});

test('held events are bounded: the oldest go first', async () => {
  const env = privacyEnv({ needAuthorization: true, officialAnswer: 'agree' });
  const { hl } = setup({ privacyHoldMax: 3 }, { env });
  await env.settle();
  for (let i = 0; i < 5; i++) hl.track(`e${i}`);
  assert.deepEqual(await hl.flush(), { ok: false, pending: 3 });
  // No handler registered: WeChat shows its own pop-up (answered "agree" here).
  assert.equal((await hl.privacy.requireAuthorize()).authorised, true);
  await hl.flush();
  assert.deepEqual(names(env), ['e2', 'e3', 'e4']);
});

test('needAuthorization false, or a failing getPrivacySetting: authorised, nothing recorded', async () => {
  for (const privacy of [{ needAuthorization: false }, { settingFails: true }]) {
    const env = privacyEnv(privacy);
    const { hl } = setup({}, { env });
    hl.identify('tok-1', 'user-1');
    hl.track('x');
    await env.settle();
    assert.equal(hl.privacy.isAuthorised(), true);
    await hl.flush();
    assert.deepEqual(names(env), ['x']);
    assert.equal(env.consentRequests().length, 0);
  }
  const env = privacyEnv({ needAuthorization: false, contractName: '《好店隐私保护指引》' });
  const { hl } = setup({}, { env });
  assert.deepEqual(await hl.privacy.getSetting(), {
    supported: true,
    needAuthorization: false,
    privacyContractName: '《好店隐私保护指引》',
  });
});

test('a decision made before login is kept and sent after login()', async () => {
  const env = privacyEnv({ needAuthorization: true });
  const { hl } = setup({ policyVersion: 'v3' }, { env });
  hl.privacy.onNeedAuthorization((resolve) => resolve({ event: 'agree' }));
  await env.settle();
  await hl.privacy.requireAuthorize();
  const opt = await hl.privacy.setConsent('personalised_recommendations', false);
  assert.deepEqual(opt, { recorded: false, pending: true, reason: 'login' });
  await env.settle();
  assert.equal(env.consentRequests().length, 0, 'no token yet: nothing sent');
  assert.deepEqual(Object.keys(env.stored('huoli_consents').pending).sort(), ['personalised_recommendations', 'privacy_policy']);

  await hl.login();
  await env.settle();
  assert.equal(env.consentRequests().length, 1);
  assert.equal(env.consentRequests()[0].header.Authorization, 'Bearer tok-wxcode-1');
  assert.deepEqual(
    sentConsents(env).map((c) => [c.purpose, c.granted, c.policy_version]).sort(),
    [['personalised_recommendations', false, 'v3'], ['privacy_policy', true, 'v3']]
  );
  assert.deepEqual(env.stored('huoli_consents').pending, {});
});

test('setConsent: recorded at once when logged in; 422 rejects and is not retried; a network failure is retried', async () => {
  const { env, hl } = setup();
  env.handler = server();
  hl.identify('tok-1', 'user-1');
  const yes = await hl.privacy.setConsent('marketing_messages', true, '2026-12-01');
  assert.equal(yes.recorded, true);
  assert.deepEqual(yes.consents, [{ purpose: 'marketing_messages', granted: true, policy_version: '2026-12-01', allowed: true }]);
  const same = await hl.privacy.setConsent('marketing_messages', true, '2026-12-01');
  assert.equal(same.recorded, true);
  assert.equal(env.consentRequests().length, 1, 'the same decision again sends nothing');

  env.handler = server({ consentStatus: 422 });
  await assert.rejects(hl.privacy.setConsent('telemetry', true), (e) => e.statusCode === 422);
  assert.deepEqual(env.stored('huoli_consents').pending, {});

  env.handler = server({ consentStatus: 'down' });
  assert.deepEqual(await hl.privacy.setConsent('marketing_messages', false), { recorded: false, pending: true, reason: 'network' });
  env.handler = server();
  await hl.flush();
  await env.settle();
  assert.deepEqual(env.consentRequests().at(-1).data.consents, [{ purpose: 'marketing_messages', granted: false, policy_version: 'unversioned' }]);
  assert.deepEqual(env.stored('huoli_consents').pending, {});
  await assert.rejects(hl.privacy.setConsent('analytics', 'no'), /boolean/);
});

test('a withdrawal goes out even before authorisation; a "yes" waits for it', async () => {
  const env = privacyEnv({ needAuthorization: true });
  const { hl } = setup({}, { env });
  hl.identify('tok-1', 'user-1');
  await env.settle();
  assert.deepEqual(await hl.privacy.setConsent('analytics', true), { recorded: false, pending: true, reason: 'privacy' });
  assert.equal((await hl.privacy.setConsent('marketing_messages', false)).recorded, true);
  assert.deepEqual(sentConsents(env).map((c) => c.purpose), ['marketing_messages']);
});

test('authorisation withdrawn in WeChat since a recorded yes: the next launch records the withdrawal', async () => {
  const storage = new Map();
  const first = privacyEnv({ needAuthorization: true }, { storage });
  const a = setup({}, { env: first });
  a.hl.identify('tok-1', 'user-1');
  a.hl.privacy.onNeedAuthorization((resolve) => resolve({ event: 'agree' }));
  await first.settle();
  await a.hl.privacy.requireAuthorize();
  await first.settle();
  assert.deepEqual(sentConsents(first).map((c) => [c.purpose, c.granted]), [['privacy_policy', true]]);

  const second = privacyEnv({ needAuthorization: true }, { storage }); // the user revoked it in WeChat
  setup({}, { env: second });
  await second.settle();
  assert.deepEqual(sentConsents(second).map((c) => [c.purpose, c.granted]), [['privacy_policy', false]]);
  assert.equal(second.eventRequests().length, 0);
});

test('events persisted in an earlier launch wait for the authorisation too', async () => {
  const storage = new Map();
  const old = createEnv({ storage });
  old.handler = () => ({ networkError: 'request:fail offline' });
  const a = setup({}, { env: old });
  a.hl.track('offline_event');
  await a.hl.flush();
  const env = privacyEnv({ needAuthorization: true }, { storage });
  const { hl } = setup({}, { env });
  await env.settle();
  await hl.flush();
  assert.equal(env.eventRequests().length, 0);
  hl.privacy.onNeedAuthorization((resolve) => resolve({ event: 'agree' }));
  await hl.privacy.requireAuthorize();
  await hl.flush();
  assert.deepEqual(names(env), ['offline_event']);
});

'use strict';
const assert = require('node:assert/strict');
const { test, setup, storedQueue, APP_ID, ENDPOINT } = require('./helpers.js');
const { acceptAll, tick } = require('./fake-wx.js');

const trackN = (hl, n, prefix = 'e') => {
  for (let i = 0; i < n; i++) hl.track(`${prefix}${i}`, { i });
};
const ids = (events) => events.map((e) => e.event_id);

test('request shape: URL, method, headers and body', async () => {
  const { env, hl } = setup({ endpoint: ENDPOINT + '/' }); // trailing slash tolerated
  env.clock.advance(5);
  hl.track('hello', { a: 1, nested: { b: [1, 2] } });
  env.clock.advance(7);
  const result = await hl.flush();
  assert.deepEqual(result, { ok: true, pending: 0 });

  assert.equal(env.requests.length, 1);
  const req = env.requests[0];
  assert.equal(req.url, 'https://api.huoli.test/v1/events');
  assert.equal(req.method, 'POST');
  assert.deepEqual(req.header, { 'Content-Type': 'application/json', 'X-Huoli-App-Id': APP_ID });
  assert.deepEqual(Object.keys(req.data).sort(), ['events', 'sent_at']);
  assert.equal(req.data.sent_at, env.clock.now());
  assert.equal(req.data.events.length, 1);
  const ev = req.data.events[0];
  assert.equal(ev.name, 'hello');
  assert.equal(ev.ts, env.clock.now() - 7);
  assert.deepEqual(ev.properties, { a: 1, nested: { b: [1, 2] } });
  assert.equal(ev.page, null);
  assert.equal(ev.scene, null);
  assert.equal(ev.channel, null);
});

test('properties are snapshotted at track time; non-object properties become {}', async () => {
  const { env, hl } = setup();
  const props = { n: 1 };
  hl.track('snap', props);
  props.n = 2;
  hl.track('arr', [1, 2]);
  hl.track('none');
  await hl.flush();
  const evs = env.sentEvents();
  assert.deepEqual(evs.map((e) => e.properties), [{ n: 1 }, {}, {}]);
});

test('invalid event names are ignored', async () => {
  const { env, hl } = setup();
  assert.equal(hl.track(''), false);
  assert.equal(hl.track(42), false);
  assert.equal(hl.track('ok'), true);
  await hl.flush();
  assert.deepEqual(env.sentEvents().map((e) => e.name), ['ok']);
});

test('reaching batchSize sends a batch without waiting for flush()', async () => {
  const { env, hl } = setup({ batchSize: 3 });
  trackN(hl, 2);
  await env.settle();
  assert.equal(env.requests.length, 0, 'below batchSize nothing is sent');
  hl.track('third');
  await env.settle();
  assert.equal(env.requests.length, 1);
  assert.deepEqual(env.requests[0].data.events.map((e) => e.name), ['e0', 'e1', 'third']);
  assert.deepEqual(storedQueue(env), []);
});

test('flush() drains the queue in batches of batchSize', async () => {
  const { env, hl } = setup({ batchSize: 4 });
  // hold the server so the size trigger does not drain while tracking
  env.handler = () => ({ networkError: 'request:fail offline' });
  trackN(hl, 10);
  await env.settle();
  env.handler = acceptAll;
  env.requests.length = 0;
  const res = await hl.flush();
  assert.deepEqual(res, { ok: true, pending: 0 });
  assert.deepEqual(env.requests.map((r) => r.data.events.length), [4, 4, 2]);
  assert.deepEqual(env.sentEvents().map((e) => e.name), Array.from({ length: 10 }, (_, i) => `e${i}`));
});

test('batchSize is clamped to 500 (and at least 1)', async () => {
  const { env, hl } = setup({ batchSize: 10000 });
  env.handler = () => ({ networkError: 'request:fail offline' });
  trackN(hl, 1203);
  await env.settle();
  env.handler = acceptAll;
  env.requests.length = 0;
  await hl.flush();
  assert.deepEqual(env.requests.map((r) => r.data.events.length), [500, 500, 203]);

  const small = setup({ batchSize: 0 });
  small.hl.track('x');
  await small.env.settle();
  assert.equal(small.env.requests.length, 1, 'batchSize 0 clamps to 1, so one event is a full batch');
});

test('default batchSize is 50', async () => {
  const env0 = setup();
  trackN(env0.hl, 49);
  await env0.env.settle();
  assert.equal(env0.env.requests.length, 0);
  env0.hl.track('fiftieth');
  await env0.env.settle();
  assert.equal(env0.env.requests.length, 1);
  assert.equal(env0.env.requests[0].data.events.length, 50);
});

test('flushInterval timer sends pending events', async () => {
  const { env, hl } = setup({ flushInterval: 5000 });
  hl.track('a');
  env.clock.advance(4999);
  await env.settle();
  assert.equal(env.requests.length, 0);
  env.clock.advance(1);
  await env.settle();
  assert.equal(env.requests.length, 1);
  assert.deepEqual(storedQueue(env), []);
  // no events -> no timer -> no empty requests
  env.clock.advance(60000);
  await env.settle();
  assert.equal(env.requests.length, 1);
});

test('only one request in flight at a time', async () => {
  const { env, hl } = setup({ batchSize: 2 });
  let release;
  let maxConcurrent = 0;
  let concurrent = 0;
  env.handler = async (req) => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    if (!release) await new Promise((r) => (release = r));
    concurrent--;
    return acceptAll(req);
  };
  trackN(hl, 2); // triggers a send which blocks
  await tick();
  trackN(hl, 4, 'late'); // size trigger again while one is in flight
  await tick();
  assert.equal(env.requests.length, 1, 'second batch waits for the first response');
  const done = hl.flush();
  release();
  await done;
  await env.settle();
  assert.equal(maxConcurrent, 1);
  assert.equal(env.sentEvents().length, 6);
  assert.deepEqual(storedQueue(env), []);
});

test('HTTP 500 then success: same event_ids resent with exponential backoff, then queue and storage empty', async () => {
  const { env, hl } = setup();
  let calls = 0;
  env.handler = (req) => (++calls <= 3 ? { status: 500, body: { detail: 'boom' } } : acceptAll(req));
  hl.track('a');
  hl.track('b');
  const tracked = storedQueue(env).map((e) => e.event_id);
  assert.equal(tracked.length, 2);

  const res = await hl.flush();
  assert.equal(res.ok, false);
  assert.equal(res.pending, 2);
  assert.equal(res.error.statusCode, 500);
  assert.equal(res.error.willRetry, true);
  assert.deepEqual(env.clock.pending(), [1000], 'first retry after 1 s');
  env.clock.advance(1000);
  await env.settle();
  assert.deepEqual(env.clock.pending(), [2000], 'second retry after 2 s');
  env.clock.advance(1999);
  await env.settle();
  assert.equal(env.requests.length, 2, 'not before the backoff elapsed');
  env.clock.advance(1);
  await env.settle();
  assert.deepEqual(env.clock.pending(), [4000]);
  env.clock.advance(4000);
  await env.settle();

  assert.equal(env.requests.length, 4);
  for (const r of env.requests) assert.deepEqual(ids(r.data.events), tracked, 'same event_ids every attempt');
  assert.deepEqual(storedQueue(env), []);
  assert.deepEqual(env.clock.pending(), []);
  assert.deepEqual(await hl.flush(), { ok: true, pending: 0 });
  assert.equal(env.requests.length, 4, 'nothing left to send');
});

test('network failure (fail callback) keeps events and retries with the same ids', async () => {
  const { env, hl } = setup();
  let offline = true;
  env.handler = (req) => (offline ? { networkError: 'request:fail timeout' } : acceptAll(req));
  hl.track('offline_event');
  await hl.flush();
  assert.equal(storedQueue(env).length, 1);
  const id = storedQueue(env)[0].event_id;
  offline = false;
  env.clock.advance(1000);
  await env.settle();
  assert.equal(env.requests.length, 2);
  assert.deepEqual(env.requests.map((r) => r.data.events[0].event_id), [id, id]);
  assert.deepEqual(storedQueue(env), []);
});

test('backoff is capped at 60 s and jitter stays within [d/2, d]', async () => {
  const { env, hl } = setup();
  env.handler = () => ({ status: 503 });
  hl.track('x');
  await hl.flush();
  const delays = [];
  for (let i = 0; i < 9; i++) {
    const [d] = env.clock.pending();
    delays.push(d);
    env.clock.advance(d);
    await env.settle();
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);

  const jit = setup({ retryJitter: true }, { deps: { random: () => 0 } });
  jit.env.handler = () => ({ status: 503 });
  jit.hl.track('y');
  await jit.hl.flush();
  assert.deepEqual(jit.env.clock.pending(), [500]);
});

test('408 and 429 are retried (429 honours Retry-After)', async () => {
  for (const status of [408, 429]) {
    const { env, hl } = setup();
    let n = 0;
    env.handler = (req) => (++n === 1 ? { status, header: status === 429 ? { 'Retry-After': '7' } : {} } : acceptAll(req));
    hl.track('t');
    await hl.flush();
    assert.equal(storedQueue(env).length, 1, `${status} keeps the events`);
    assert.deepEqual(env.clock.pending(), [status === 429 ? 7000 : 1000]);
    env.clock.advance(env.clock.pending()[0]);
    await env.settle();
    assert.equal(env.requests.length, 2);
    assert.deepEqual(storedQueue(env), []);
  }
});

test('explicit flush() bypasses a pending backoff', async () => {
  const { env, hl } = setup();
  let n = 0;
  env.handler = (req) => (++n === 1 ? { status: 500 } : acceptAll(req));
  hl.track('a');
  await hl.flush();
  assert.deepEqual(env.clock.pending(), [1000]);
  const res = await hl.flush();
  assert.deepEqual(res, { ok: true, pending: 0 });
  assert.equal(env.requests.length, 2);
  assert.deepEqual(env.clock.pending(), [], 'retry timer cancelled');
});

test('422 and other 4xx drop the batch; next batches continue', async () => {
  for (const status of [400, 403, 404, 413, 422]) {
    const { env, hl } = setup({ batchSize: 2 });
    env.handler = () => ({ networkError: 'request:fail' });
    trackN(hl, 3);
    await env.settle();
    let n = 0;
    env.handler = (req) => (++n === 1 ? { status, body: { detail: 'invalid' } } : acceptAll(req));
    env.requests.length = 0;
    const res = await hl.flush();
    assert.equal(res.ok, false, `status ${status}: the dropped batch makes the flush fail`);
    assert.equal(res.pending, 0);
    assert.equal(res.error.statusCode, status);
    assert.equal(res.error.dropped, 2);
    assert.equal(env.requests.length, 2);
    assert.deepEqual(env.requests[1].data.events.map((e) => e.name), ['e2']);
    assert.deepEqual(storedQueue(env), []);
    env.clock.advance(120000);
    await env.settle();
    assert.equal(env.requests.length, 2, `status ${status}: dropped events are never retried`);
  }
});

test('200 with per-event rejections: rejected events dropped, not retried', async () => {
  const { env, hl } = setup();
  env.handler = (req) => ({
    status: 200,
    body: {
      accepted: 1,
      duplicates: 0,
      rejected: [
        {
          index: 1,
          event_id: req.data.events[1].event_id,
          errors: [{ field: 'properties.amount_fen', message: 'must be an integer' }],
        },
      ],
    },
  });
  hl.track('good');
  hl.track('bad', { amount_fen: 1.5 });
  const res = await hl.flush();
  assert.equal(res.ok, false, 'a rejected event is lost: the flush says so');
  assert.equal(res.pending, 0);
  assert.equal(res.error.kind, 'rejected');
  assert.equal(res.error.dropped, 1);
  assert.equal(res.error.rejected[0].errors[0].field, 'properties.amount_fen');
  assert.deepEqual(storedQueue(env), []);
  env.clock.advance(120000);
  await hl.flush();
  assert.equal(env.requests.length, 1);
});

test('401 clears the token (memory and storage), keeps the events and retries without Authorization', async () => {
  const { env, hl } = setup();
  hl.identify('tok-old', 'u-1');
  assert.deepEqual(env.stored('huoli_auth').token, 'tok-old');
  env.handler = (req) =>
    req.header.Authorization ? { status: 401, body: { detail: 'token expired' } } : acceptAll(req);
  hl.track('a');
  const eventId = storedQueue(env)[0].event_id;
  assert.deepEqual(await hl.flush(), { ok: true, pending: 0 });
  assert.equal(env.requests.length, 2);
  assert.equal(env.requests[0].header.Authorization, 'Bearer tok-old');
  assert.equal(env.requests[1].header.Authorization, undefined);
  assert.equal(env.requests[1].data.events[0].event_id, eventId);
  assert.equal(env.requests[1].data.events[0].anonymous_id, hl.getAnonymousId());
  assert.equal(env.stored('huoli_auth'), undefined);
  assert.equal(hl.getUserId(), null);
});

test('401 without a token (no credential to drop) is a refusal: dropped, not retried', async () => {
  const { env, hl } = setup();
  env.handler = () => ({ status: 401, body: { code: 'missing_app_id', message: 'X-Huoli-App-Id header required' } });
  hl.track('a');
  const res = await hl.flush();
  assert.equal(res.ok, false);
  assert.equal(res.pending, 0);
  assert.equal(res.error.code, 'missing_app_id');
  assert.equal(env.requests.length, 1);
  assert.deepEqual(env.clock.pending(), []);
});

test('events tracked while a request is in flight are not lost when it succeeds', async () => {
  const { env, hl } = setup();
  let release;
  env.handler = async (req) => {
    if (!release) await new Promise((r) => (release = r));
    return acceptAll(req);
  };
  hl.track('first');
  const p = hl.flush();
  await tick();
  hl.track('second'); // arrives mid-flight
  release();
  assert.deepEqual(await p, { ok: true, pending: 0 });
  assert.deepEqual(env.sentEvents().map((e) => e.name), ['first', 'second']);
  assert.deepEqual(storedQueue(env), []);
});

test('flush() before init resolves (never rejects)', async () => {
  const { hl } = setup({}, { init: false });
  assert.deepEqual(await hl.flush(), { ok: false, pending: 0 });
});

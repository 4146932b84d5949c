'use strict';
const assert = require('node:assert/strict');
const { test, setup, wireApp, storedQueue } = require('./helpers.js');
const { createEnv, acceptAll } = require('./fake-wx.js');

test('every event is persisted to storage before any request is made', () => {
  const { env, hl } = setup({ batchSize: 1 });
  const seen = [];
  // capture the storage state at the moment wx.request is called
  const origRequest = env.wx.request;
  env.wx.request = (o) => {
    seen.push({ atRequest: storedQueue(env).map((e) => e.event_id), sending: o.data.events.map((e) => e.event_id) });
    return origRequest(o);
  };
  hl.track('a');
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].atRequest, seen[0].sending);
  assert.equal(seen[0].atRequest.length, 1);
});

test('app killed before sending: a new SDK instance over the same storage re-sends the events', async () => {
  const storage = new Map();
  const env1 = createEnv({ storage });
  env1.handler = () => ({ networkError: 'request:fail offline' });
  const first = setup({}, { env: env1 });
  wireApp(env1, first.hl);
  env1.launch({ path: 'pages/index/index', query: {}, scene: 1001 });
  first.hl.track('checkout', { order_id: 'o-1', amount_fen: 1999 });
  await first.hl.flush(); // fails: offline
  const queued = storedQueue(env1);
  assert.deepEqual(queued.map((e) => e.name), ['app_launch', 'app_show', 'checkout']);

  // "kill": drop the instance; relaunch with a new env sharing only the storage Map
  const env2 = createEnv({ storage });
  const second = setup({}, { env: env2 }); // init loads and flushes the persisted queue
  await env2.settle();
  assert.equal(env2.eventRequests().length, 1);
  assert.deepEqual(
    env2.sentEvents().map((e) => e.event_id),
    queued.map((e) => e.event_id),
    'same event ids, so the server dedups anything it already had'
  );
  assert.deepEqual(env2.sentEvents(), queued, 'events are resent byte-identical');
  assert.deepEqual(storedQueue(env2), []);
  assert.equal(second.hl.getAnonymousId(), first.hl.getAnonymousId(), 'anonymous id survives restarts');
});

test('a crash mid-flight (no response) loses nothing', async () => {
  const storage = new Map();
  const env1 = createEnv({ storage });
  env1.handler = () => new Promise(() => {}); // never answers
  const first = setup({ batchSize: 2 }, { env: env1 });
  first.hl.track('a');
  first.hl.track('b'); // batch in flight, never answered
  first.hl.track('c');
  assert.equal(env1.requests.length, 1);
  const env2 = createEnv({ storage });
  setup({}, { env: env2 });
  await env2.settle();
  assert.deepEqual(env2.sentEvents().map((e) => e.name), ['a', 'b', 'c']);
});

test('events are removed from storage only after a 200', async () => {
  const { env, hl } = setup();
  let status = 500;
  env.handler = (req) => (status === 200 ? acceptAll(req) : { status });
  hl.track('a');
  await hl.flush();
  assert.equal(storedQueue(env).length, 1, 'kept after 500');
  status = 200;
  await hl.flush();
  assert.equal(storedQueue(env).length, 0);
});

test('custom storageKey is used for the queue', async () => {
  const { env, hl } = setup({ storageKey: 'my_q' });
  env.handler = () => ({ networkError: 'request:fail' });
  hl.track('a');
  assert.equal(storedQueue(env, 'my_q').length, 1);
  assert.equal(env.stored('huoli_queue'), undefined);
  await hl.flush();
});

test('maxQueue drops the oldest events (in memory and in storage)', async () => {
  const { env, hl } = setup({ maxQueue: 5 });
  env.handler = () => ({ networkError: 'request:fail offline' });
  for (let i = 0; i < 8; i++) hl.track(`e${i}`);
  assert.deepEqual(storedQueue(env).map((e) => e.name), ['e3', 'e4', 'e5', 'e6', 'e7']);
  env.handler = acceptAll;
  env.requests.length = 0;
  await hl.flush();
  assert.deepEqual(env.sentEvents().map((e) => e.name), ['e3', 'e4', 'e5', 'e6', 'e7']);
});

test('maxQueue also applies to a restored queue', async () => {
  const storage = new Map();
  const env1 = createEnv({ storage });
  env1.handler = () => ({ networkError: 'request:fail' });
  const a = setup({ maxQueue: 100 }, { env: env1 });
  for (let i = 0; i < 10; i++) a.hl.track(`e${i}`);
  const env2 = createEnv({ storage });
  env2.handler = () => ({ networkError: 'request:fail' });
  setup({ maxQueue: 4 }, { env: env2 });
  assert.deepEqual(storedQueue(env2).map((e) => e.name), ['e6', 'e7', 'e8', 'e9']);
});

test('a corrupt persisted queue is ignored, valid entries kept', async () => {
  const storage = new Map();
  storage.set('huoli_queue', JSON.stringify([null, 'x', { name: 'no_id' }, { event_id: 'ok-1', name: 'kept', ts: 1 }]));
  const env = createEnv({ storage });
  setup({}, { env });
  await env.settle();
  assert.deepEqual(env.sentEvents().map((e) => e.event_id), ['ok-1']);

  const env2 = createEnv();
  env2.storage.set('huoli_queue', JSON.stringify({ not: 'an array' }));
  const { hl } = setup({}, { env: env2 });
  hl.track('fresh');
  await hl.flush();
  assert.deepEqual(env2.sentEvents().map((e) => e.name), ['fresh']);
});

test('storage quota exceeded: tracking keeps working and the newest events stay persisted', async () => {
  const { env, hl } = setup();
  env.handler = () => ({ networkError: 'request:fail' });
  env.storageItemLimit = 2500; // ~ a handful of events
  for (let i = 0; i < 20; i++) assert.equal(hl.track(`e${i}`), true);
  const stored = storedQueue(env);
  assert.ok(stored.length > 0 && stored.length < 20);
  assert.equal(stored[stored.length - 1].name, 'e19', 'newest events are the ones persisted');
  env.handler = acceptAll;
  env.requests.length = 0;
  await hl.flush();
  assert.equal(env.sentEvents().length, 20, 'the in-memory queue still has everything');
});

test('storage that throws on every write never breaks tracking', async () => {
  const { env, hl } = setup();
  env.wx.setStorageSync = () => {
    throw new Error('setStorageSync:fail');
  };
  assert.equal(hl.track('a'), true);
  await hl.flush();
  assert.deepEqual(env.sentEvents().map((e) => e.name), ['a']);
});

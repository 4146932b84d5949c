'use strict';
const assert = require('node:assert/strict');
const { test, setup, wireApp, UUID_V4 } = require('./helpers.js');

const parse = (path) => {
  const [base, qs = ''] = path.split('?');
  return { base, params: new URLSearchParams(qs), qs };
};

async function flushed(env, hl) {
  await hl.flush();
  await env.settle();
  return env.sentEvents();
}

test('share: returned path keeps its query and gets hl_sharer / hl_share_id; share event tracked', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl, {}, {
    onShareAppMessage() {
      return { title: 'Look', path: '/pages/item/detail?id=42&from=share%20card', imageUrl: 'a.png' };
    },
  });
  env.launch();
  const page = env.openPage(pageOpts, 'pages/item/detail', { id: '42' });
  const ret = page.onShareAppMessage({ from: 'menu' });

  assert.equal(ret.title, 'Look');
  assert.equal(ret.imageUrl, 'a.png');
  const { base, params, qs } = parse(ret.path);
  assert.equal(base, '/pages/item/detail');
  assert.ok(qs.startsWith('id=42&from=share%20card&'), 'existing params preserved verbatim and first');
  assert.equal(params.get('id'), '42');
  assert.equal(params.get('from'), 'share card');
  assert.equal(params.get('hl_sharer'), hl.getAnonymousId(), 'anonymous id when not logged in');
  assert.match(params.get('hl_share_id'), UUID_V4);
  assert.equal(params.has('hl_campaign'), false);

  const shares = (await flushed(env, hl)).filter((e) => e.name === 'share');
  assert.equal(shares.length, 1);
  assert.equal(shares[0].page, 'pages/item/detail');
  assert.deepEqual(shares[0].properties, {
    share_id: params.get('hl_share_id'),
    sharer_id: hl.getAnonymousId(),
    campaign: null,
    target_path: ret.path,
  });

  // each share gets a new share id
  const ret2 = page.onShareAppMessage({ from: 'menu' });
  assert.notEqual(parse(ret2.path).params.get('hl_share_id'), params.get('hl_share_id'));
});

test('share: default path is the current route + current query; user id is the sharer when logged in', async () => {
  const { env, hl } = setup();
  hl.identify('tok', 'user-7');
  const pageOpts = wireApp(env, hl, {}, {
    onShareAppMessage() {
      return { title: 'no path' };
    },
  });
  const page = env.openPage(pageOpts, 'pages/item/detail', { id: '42', q: 'a b' });
  const ret = page.onShareAppMessage();
  const { base, params } = parse(ret.path);
  assert.equal(base, '/pages/item/detail');
  assert.equal(params.get('id'), '42');
  assert.equal(params.get('q'), 'a b');
  assert.equal(params.get('hl_sharer'), 'user-7');
  const share = (await flushed(env, hl)).find((e) => e.name === 'share');
  assert.equal(share.properties.sharer_id, 'user-7');
});

test('share: a hook returning nothing still gets a tracked path', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl, {}, { onShareAppMessage() {} });
  const page = env.openPage(pageOpts, 'pages/index/index');
  const ret = page.onShareAppMessage();
  assert.match(ret.path, /^\/pages\/index\/index\?hl_sharer=[^&]+&hl_share_id=[0-9a-f-]{36}$/);
});

test('share: campaign from the returned object wins over config; re-share replaces old hl_ params', async () => {
  const { env, hl } = setup({ campaign: 'cfg-camp' });
  const pageOpts = wireApp(env, hl, {}, {
    onShareAppMessage() {
      return this.data && this.data.useOwn ? { path: '/pages/a/a', campaign: 'spring sale' } : {};
    },
  });
  // page opened from someone else's share card
  const page = env.openPage(pageOpts, 'pages/a/a', {
    k: 'v',
    hl_sharer: 'someone-else',
    hl_share_id: 'old-share',
    hl_campaign: 'old',
  });
  const ret = page.onShareAppMessage();
  const { params } = parse(ret.path);
  assert.deepEqual(params.getAll('hl_sharer'), [hl.getAnonymousId()]);
  assert.equal(params.getAll('hl_share_id').length, 1);
  assert.notEqual(params.get('hl_share_id'), 'old-share');
  assert.equal(params.get('hl_campaign'), 'cfg-camp');
  assert.equal(params.get('k'), 'v');

  page.data = { useOwn: true };
  const ret2 = page.onShareAppMessage();
  assert.equal(parse(ret2.path).params.get('hl_campaign'), 'spring sale');
  const shares = (await flushed(env, hl)).filter((e) => e.name === 'share');
  assert.deepEqual(shares.map((e) => e.properties.campaign), ['cfg-camp', 'spring sale']);
});

test('share: async `promise` result is rewritten with the same share id', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl, {}, {
    onShareAppMessage() {
      return { title: 't', promise: Promise.resolve({ title: 'late', path: '/pages/b/b?z=1' }) };
    },
  });
  const page = env.openPage(pageOpts, 'pages/b/b');
  const ret = page.onShareAppMessage();
  const late = await ret.promise;
  assert.equal(late.title, 'late');
  const { base, params } = parse(late.path);
  assert.equal(base, '/pages/b/b');
  assert.equal(params.get('z'), '1');
  assert.equal(params.get('hl_share_id'), parse(ret.path).params.get('hl_share_id'));
});

test('onShareTimeline: params go into `query`; share event has to: "timeline"', async () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl, {}, {
    onShareTimeline() {
      return { title: 'moments', query: 'id=9&x=y' };
    },
  });
  const page = env.openPage(pageOpts, 'pages/item/detail', { id: '9' });
  const ret = page.onShareTimeline();
  assert.equal(ret.title, 'moments');
  assert.equal(ret.path, undefined);
  const params = new URLSearchParams(ret.query);
  assert.ok(ret.query.startsWith('id=9&x=y&'));
  assert.equal(params.get('hl_sharer'), hl.getAnonymousId());
  assert.match(params.get('hl_share_id'), UUID_V4);
  const share = (await flushed(env, hl)).find((e) => e.name === 'share');
  assert.deepEqual(share.properties, {
    share_id: params.get('hl_share_id'),
    sharer_id: hl.getAnonymousId(),
    campaign: null,
    target_path: '/pages/item/detail?' + ret.query,
    to: 'timeline',
  });
});

test('onShareTimeline without a returned query uses the current page query', () => {
  const { env, hl } = setup();
  const pageOpts = wireApp(env, hl, {}, { onShareTimeline: () => ({ title: 'x' }) });
  const page = env.openPage(pageOpts, 'pages/item/detail', { id: '5' });
  const params = new URLSearchParams(page.onShareTimeline().query);
  assert.equal(params.get('id'), '5');
  assert.ok(params.get('hl_share_id'));
});

test('pages without share hooks do not get them (the share menu stays disabled)', () => {
  const { hl } = setup();
  const wrapped = hl.wrapPage({ onLoad() {} });
  assert.equal('onShareAppMessage' in wrapped, false);
  assert.equal('onShareTimeline' in wrapped, false);
});

test('share_open: one per distinct share id per session, with sharer, campaign and scene', async () => {
  const { env, hl } = setup();
  wireApp(env, hl);
  const shareQuery = { id: '42', hl_sharer: 'user-7', hl_share_id: 'share-abc', hl_campaign: 'spring' };
  env.launch({ path: 'pages/item/detail', query: shareQuery, scene: 1007 });
  let opens = (await flushed(env, hl)).filter((e) => e.name === 'share_open');
  assert.equal(opens.length, 1, 'launch + first show of the same card count once');
  assert.equal(opens[0].scene, 1007);
  assert.deepEqual(opens[0].properties, { share_id: 'share-abc', sharer_id: 'user-7', campaign: 'spring' });

  // same card again within the session -> ignored; a different card -> tracked
  env.appHide();
  env.clock.advance(1000);
  env.appShow({ path: 'pages/item/detail', query: shareQuery, scene: 1008 });
  env.appHide();
  env.clock.advance(1000);
  env.appShow({ path: 'pages/item/detail', query: { hl_sharer: 'u-9', hl_share_id: 'share-def' }, scene: 1008 });
  opens = (await flushed(env, hl)).filter((e) => e.name === 'share_open');
  assert.deepEqual(opens.map((e) => [e.properties.share_id, e.scene]), [
    ['share-abc', 1007],
    ['share-def', 1008],
  ]);
  assert.equal(opens[1].properties.campaign, null);

  // new session -> the same card counts again
  env.appHide();
  env.clock.advance(30000);
  env.appShow({ path: 'pages/item/detail', query: shareQuery, scene: 1008 });
  opens = (await flushed(env, hl)).filter((e) => e.name === 'share_open');
  assert.equal(opens.length, 3);
  assert.notEqual(opens[2].session_id, opens[0].session_id);
});

test('a plain launch produces no share_open', async () => {
  const { env, hl } = setup();
  wireApp(env, hl);
  env.launch({ path: 'pages/index/index', query: { hl_sharer: 'x' }, scene: 1001 });
  const events = await flushed(env, hl);
  assert.equal(events.filter((e) => e.name === 'share_open').length, 0);
});

'use strict';
// Drives the real SDK against a real huoli server: the simulated wx forwards wx.request over HTTP.
// Usage: node scripts/contract.js <endpoint> <appId>   (prints a JSON summary on stdout)
const { createHuoli } = require('../dist/huoli.js');
const { createEnv } = require('../test/fake-wx.js');

async function main() {
  const [endpoint, appId] = process.argv.slice(2);
  const responses = [];
  const env = createEnv({
    launchOptions: {
      path: 'pages/index/index',
      query: { hl_channel: 'kol', hl_share_id: 'sh-contract', hl_sharer: 'u_sharer' },
      scene: 1007,
    },
    handler: async (req) => {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.header,
        body: JSON.stringify(req.data),
      });
      const body = await res.json();
      responses.push({ url: req.url.replace(endpoint, ''), status: res.status, body });
      return { status: res.status, body };
    },
  });
  const hl = createHuoli({ wx: env.wx, setTimeout, clearTimeout, console: { log() {}, warn() {}, error() {} } });
  hl.init({ appId, endpoint, now: Date.now, flushInterval: 0, retryJitter: false });
  env.App(hl.wrapApp({}));
  env.Page(hl.wrapPage({ onShareAppMessage() { return { title: '好物分享' }; } }));
  const pageOptions = env.pageOptions[0];

  env.launch();
  const page = env.openPage(pageOptions, 'pages/item/detail', { id: '42' }, 0);
  const share = page.onShareAppMessage({ from: 'menu' });
  hl.track('search', { keyword: '茶', results: 3 });
  await hl.flush();
  await env.settle();
  let login = null;
  try {
    login = await hl.login();
  } catch (e) {
    login = { error: String(e && e.message) };
  }
  hl.track('view_item', { item_id: 'sku-42' });
  env.appHide();
  await hl.flush();
  await env.settle();
  process.stdout.write(
    JSON.stringify({
      sharePath: share && share.path,
      login,
      userId: hl.getUserId(),
      anonymousId: hl.getAnonymousId(),
      responses,
      queued: (env.stored('huoli_queue') || []).length,
    }),
  );
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});

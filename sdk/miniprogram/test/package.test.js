'use strict';
// The npm package as a mini-program developer gets it: `npm pack` → the tarball → node's require (main) and
// WeChat DevTools' 构建npm (the `miniprogram` folder copied alone to miniprogram_npm/<name>/, index.js loaded).
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('./helpers.js');
const { createEnv } = require('./fake-wx.js');

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

function packed() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'huoli-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' },
  });
  const [info] = JSON.parse(out);
  const unpacked = path.join(dir, 'unpacked');
  fs.mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', path.join(dir, info.filename), '-C', unpacked]);
  return { dir, info, root: path.join(unpacked, 'package') };
}

/** Runs the entry with a fresh module cache and a global `wx`, as the mini-program runtime provides it. */
async function smoke(entry) {
  const env = createEnv();
  const hadWx = 'wx' in global;
  global.wx = env.wx;
  try {
    delete require.cache[require.resolve(entry)];
    const huoli = require(entry);
    assert.equal(huoli.VERSION, pkg.version, 'the SDK reports the package version');
    assert.equal(huoli.init({ appId: 'wx0123456789abcdef', endpoint: 'https://huoli.test', flushInterval: 0 }), true);
    huoli.track('smoke', { n: 1 });
    const res = await huoli.flush();
    assert.deepEqual(res, { ok: true, pending: 0 });
    assert.equal(env.requests[0].header['X-Huoli-App-Id'], 'wx0123456789abcdef');
    assert.deepEqual(env.sentEvents().map((e) => e.name), ['smoke']);
  } finally {
    if (hadWx === false) delete global.wx;
    for (const k of Object.keys(require.cache)) if (k.startsWith(path.dirname(entry))) delete require.cache[k];
  }
}

test('package.json: the npm name, node main and the miniprogram folder WeChat DevTools builds from', () => {
  assert.equal(pkg.name, 'huoli-miniprogram-sdk');
  assert.equal(pkg.miniprogram, 'dist');
  assert.equal(pkg.main, 'dist/index.js');
  assert.ok(fs.existsSync(path.join(ROOT, pkg.miniprogram, 'index.js')), 'DevTools loads index.js of the folder');
  assert.deepEqual(pkg.dependencies || {}, {}, 'no runtime dependencies: 构建npm copies the folder as is');
});

test('npm pack: the tarball holds the dist folder, README and package.json only', () => {
  const { info } = packed();
  const files = info.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['README.md', 'dist/huoli.js', 'dist/index.js', 'package.json']);
  assert.equal(info.name, 'huoli-miniprogram-sdk');
});

test('the packed package works through node require (main)', async () => {
  const { root } = packed();
  await smoke(path.join(root, 'dist', 'index.js'));
  const main = require.resolve(root); // resolves package.json's main
  assert.equal(main, path.join(root, 'dist', 'index.js'));
});

test('the packed package works as 构建npm lays it out: miniprogram_npm/<name>/ holding only the dist folder', async () => {
  const { dir, root } = packed();
  const target = path.join(dir, 'mp', 'miniprogram_npm', pkg.name);
  fs.mkdirSync(target, { recursive: true });
  fs.cpSync(path.join(root, pkg.miniprogram), target, { recursive: true }); // nothing outside it is copied
  await smoke(path.join(target, 'index.js'));
});

test('copying one file stays possible: dist/huoli.js requires nothing else', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'huoli-copy-'));
  fs.copyFileSync(path.join(ROOT, 'dist', 'huoli.js'), path.join(dir, 'huoli.js'));
  await smoke(path.join(dir, 'huoli.js'));
});

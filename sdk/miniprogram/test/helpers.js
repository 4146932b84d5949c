'use strict';
// Shared test setup: an SDK instance wired to a fake wx env, fake clock and fake timers.
const nodeTest = require('node:test');
const { createHuoli } = require('../dist/huoli.js');

/** node:test with a default per-test timeout, so a regression that loops forever fails instead of hanging. */
function test(name, fn, timeout = 10000) {
  return nodeTest(name, { timeout }, fn);
}
const { createEnv } = require('./fake-wx.js');

const APP_ID = 'wx-test-app';
const ENDPOINT = 'https://api.huoli.test';

/** New SDK instance over `env` (a fresh env unless given). Returns { env, hl }. */
function setup(config = {}, { env = createEnv(), init = true, deps = {} } = {}) {
  const hl = createHuoli({
    wx: env.wx,
    setTimeout: env.clock.setTimeout,
    clearTimeout: env.clock.clearTimeout,
    console: { log() {}, warn() {}, error() {} },
    ...deps,
  });
  if (init) {
    hl.init({
      appId: APP_ID,
      endpoint: ENDPOINT,
      now: env.clock.now,
      flushInterval: 0, // tests flush explicitly unless they test the timer
      retryJitter: false,
      ...config,
    });
  }
  return { env, hl };
}

/** Register a wrapped App and Page on the env's fake globals; returns page options. */
function wireApp(env, hl, appOptions = {}, pageOptions = {}) {
  env.App(hl.wrapApp(appOptions));
  env.Page(hl.wrapPage(pageOptions));
  return env.pageOptions[env.pageOptions.length - 1];
}

/** Events still queued (persisted) in storage. */
function storedQueue(env, key = 'huoli_queue') {
  return env.stored(key) || [];
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

module.exports = { test, setup, wireApp, storedQueue, APP_ID, ENDPOINT, UUID_V4 };

/*!
 * huoli (活力) WeChat mini-program SDK
 * Single file, no dependencies, no build step: install the npm package huoli-miniprogram-sdk (WeChat DevTools
 * 构建npm), or copy this file into the mini-program and `require` it.
 * License: Apache-2.0
 */
'use strict';

var VERSION = '0.2.0';

var MAX_BATCH = 500; // server limit per POST /v1/events
var DEFAULTS = {
  batchSize: 50,
  flushInterval: 5000,
  maxQueue: 2000, // ~300 bytes an event: stays under WeChat's 1 MB per storage key
  storageKey: 'huoli_queue',
  sessionTimeout: 30000,
  requestTimeout: 15000
};
var RETRY_BASE_MS = 1000;
var RETRY_MAX_MS = 60000;
var PRE_INIT_MAX = 500; // events tracked before init() are buffered in memory (not persisted)

var ANON_KEY = 'huoli_anon_id';
var AUTH_KEY = 'huoli_auth';
var CHANNEL_KEY = 'huoli_channel';
var FLAGS_KEY = 'huoli_flags';
var FLAGS_TTL_MS = 300000; // used when the server does not say (it sends ttl_s)
var CONSENT_KEY = 'huoli_consents';
var PRIVACY_HOLD_MAX = 500; // events held in memory (never stored) until the privacy guide is authorised

var SHARE_KEYS = { hl_sharer: true, hl_share_id: true, hl_campaign: true };

// ---------------------------------------------------------------------------------------------
// Small pure helpers
// ---------------------------------------------------------------------------------------------

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function toInt(v, dflt, min, max) {
  var n = Number(v);
  if (v === undefined || v === null || v === '' || !isFinite(n)) n = dflt;
  n = Math.floor(n);
  if (min !== undefined && n < min) n = min;
  if (max !== undefined && n > max) n = max;
  return n;
}

function toScene(v) {
  if (v === undefined || v === null || v === '') return null;
  var n = Number(v);
  return isFinite(n) ? Math.round(n) : null;
}

function cloneJson(v) {
  try {
    var out = JSON.parse(JSON.stringify(v));
    return isObject(out) ? out : {};
  } catch (e) {
    return Object.assign({}, v);
  }
}

function safeDecode(s) {
  s = String(s);
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return s;
  }
}

function queryValue(query, key) {
  if (!isObject(query)) return null;
  var v = query[key];
  if (v === undefined || v === null || v === '') return null;
  return safeDecode(v);
}

// Query object -> "a=1&b=2". Values may arrive raw or already URL-encoded (WeChat does not decode
// page query values), so normalise by decoding first and encoding once.
function queryToString(query) {
  if (!isObject(query)) return '';
  var parts = [];
  Object.keys(query).forEach(function (k) {
    var v = query[k];
    if (v === undefined || v === null) return;
    parts.push(encodeURIComponent(safeDecode(k)) + '=' + encodeURIComponent(safeDecode(v)));
  });
  return parts.join('&');
}

// Append huoli share params to a query string, keeping the other params byte-for-byte and
// replacing any hl_sharer/hl_share_id/hl_campaign already present (a re-share of a shared page).
function appendToQuery(qs, params) {
  var kept = String(qs || '')
    .replace(/^\?/, '')
    .split('&')
    .filter(function (seg) {
      if (!seg) return false;
      var key = safeDecode(seg.split('=')[0]);
      return !SHARE_KEYS[key];
    });
  params.forEach(function (p) {
    kept.push(encodeURIComponent(p[0]) + '=' + encodeURIComponent(String(p[1])));
  });
  return kept.join('&');
}

function appendToPath(path, params) {
  path = String(path);
  var hash = '';
  var h = path.indexOf('#');
  if (h >= 0) {
    hash = path.slice(h);
    path = path.slice(0, h);
  }
  var q = path.indexOf('?');
  var base = q >= 0 ? path.slice(0, q) : path;
  var qs = q >= 0 ? path.slice(q + 1) : '';
  return base + '?' + appendToQuery(qs, params) + hash;
}

function makeUuid(cryptoObj, random) {
  var b = new Uint8Array(16);
  var filled = false;
  if (cryptoObj && typeof cryptoObj.getRandomValues === 'function') {
    try {
      cryptoObj.getRandomValues(b);
      filled = true;
    } catch (e) {
      filled = false;
    }
  }
  if (!filled) {
    for (var i = 0; i < 16; i++) b[i] = Math.floor(random() * 256) & 0xff;
  }
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  var hex = '';
  for (var j = 0; j < 16; j++) {
    hex += (b[j] + 0x100).toString(16).slice(1);
    if (j === 3 || j === 5 || j === 7 || j === 9) hex += '-';
  }
  return hex;
}

// ---------------------------------------------------------------------------------------------
// Factory
// ---------------------------------------------------------------------------------------------

/**
 * Create an independent SDK instance.
 * deps (all optional): { wx, crypto, setTimeout, clearTimeout, random, now, console }
 * The default export is `createHuoli()` bound lazily to the global `wx`.
 */
function createHuoli(deps) {
  deps = deps || {};

  var con = deps.console || (typeof console !== 'undefined' ? console : null);
  var random = deps.random || Math.random;
  var setT = deps.setTimeout || function (fn, ms) { return setTimeout(fn, ms); };
  var clearT = deps.clearTimeout || function (id) { return clearTimeout(id); };

  function getWx() {
    if (deps.wx) return deps.wx;
    return typeof wx !== 'undefined' ? wx : null; // eslint-disable-line no-undef
  }
  function getCrypto() {
    if (deps.crypto !== undefined) return deps.crypto;
    if (typeof crypto !== 'undefined') return crypto; // eslint-disable-line no-undef
    return null;
  }
  function uuid() {
    return makeUuid(getCrypto(), random);
  }

  // ---- config & clock ----
  var cfg = null;
  var ready = false;
  var nowFn = deps.now || function () { return Date.now(); };
  function now() {
    var t = Number(nowFn());
    return Math.round(isFinite(t) ? t : Date.now());
  }

  // ---- logging ----
  function log() {
    if (!cfg || !cfg.debug || !con) return;
    var args = ['[huoli]'].concat(Array.prototype.slice.call(arguments));
    (con.log || function () {}).apply(con, args);
  }
  function warn() {
    if (!con) return;
    var args = ['[huoli]'].concat(Array.prototype.slice.call(arguments));
    (con.warn || con.log || function () {}).apply(con, args);
  }
  function safe(fn, self, args) {
    try {
      return fn.apply(self, args || []);
    } catch (e) {
      if (cfg && cfg.debug) warn('internal error (swallowed):', e && e.stack ? e.stack : e);
      return undefined;
    }
  }

  // ---- storage (never throws) ----
  function sGet(key) {
    var w = getWx();
    if (!w) return null;
    try {
      var v = w.getStorageSync(key);
      return v === '' || v === undefined ? null : v;
    } catch (e) {
      return null;
    }
  }
  function sSet(key, val) {
    var w = getWx();
    if (!w) return false;
    try {
      w.setStorageSync(key, val);
      return true;
    } catch (e) {
      log('setStorageSync failed for', key, e && e.message);
      return false;
    }
  }
  function sRemove(key) {
    var w = getWx();
    if (!w) return;
    try {
      w.removeStorageSync(key);
    } catch (e) {
      /* ignore */
    }
  }

  // ---- identity ----
  var identityLoaded = false;
  var anonId = null;
  var token = null;
  var userId = null;
  var tokenExpiresAt = null; // epoch ms or null
  var channel = null; // from launch/show query (hl_channel | channel), persisted

  function loadIdentity() {
    if (identityLoaded) return;
    if (getWx()) identityLoaded = true;
    var a = sGet(ANON_KEY);
    if (typeof a === 'string' && a) {
      anonId = a;
    } else if (!anonId) {
      anonId = uuid();
      sSet(ANON_KEY, anonId);
    } else {
      sSet(ANON_KEY, anonId);
    }
    var auth = sGet(AUTH_KEY);
    if (isObject(auth) && typeof auth.token === 'string' && auth.token && !token) {
      token = auth.token;
      userId = auth.user_id != null ? String(auth.user_id) : null;
      tokenExpiresAt = typeof auth.expires_at === 'number' ? auth.expires_at : null;
    }
    var ch = sGet(CHANNEL_KEY);
    if (typeof ch === 'string' && ch && !channel) channel = ch;
  }

  function getAnonymousId() {
    loadIdentity();
    return anonId;
  }

  function setAuth(tok, uid, expiresAt) {
    token = tok;
    if (uid !== undefined && uid !== null) userId = String(uid);
    var exp = null;
    if (typeof expiresAt === 'number' && isFinite(expiresAt)) exp = expiresAt;
    else if (typeof expiresAt === 'string' && expiresAt) {
      var parsed = Date.parse(expiresAt);
      if (isFinite(parsed)) exp = parsed;
    }
    tokenExpiresAt = exp;
    sSet(AUTH_KEY, { token: token, user_id: userId, expires_at: tokenExpiresAt });
  }

  function clearAuth() {
    token = null;
    userId = null;
    tokenExpiresAt = null;
    sRemove(AUTH_KEY);
  }

  function currentToken() {
    loadIdentity();
    if (!token) return null;
    if (tokenExpiresAt !== null && now() >= tokenExpiresAt) {
      log('token expired locally; cleared');
      clearAuth();
      return null;
    }
    return token;
  }

  function setChannel(ch) {
    if (!ch) return;
    channel = String(ch);
    sSet(CHANNEL_KEY, channel);
  }

  // ---- session & context ----
  var sessionId = uuid();
  var seenShareIds = {}; // share_open dedup, per session
  var scene = null; // latest show's scene
  var currentRoute = null; // route of the page currently shown
  var lastViewedRoute = null; // for referrer_page
  var currentView = null; // page state of the open page view
  var app = { lastShowAt: null, lastHideAt: null };

  function newSession() {
    sessionId = uuid();
    seenShareIds = {};
    log('new session', sessionId);
  }

  // ---- queue & transport ----
  var queue = [];
  var preInit = [];
  var inFlight = false;
  var draining = false;
  var waiters = [];
  var retryTimer = null;
  var flushTimer = null;
  var attempts = 0;
  var drainError = null; // the last delivery failure since waiters were last settled (flush() reports it)

  // ---- privacy authorisation (see the privacy section below) ----
  // State: 'unknown' until wx.getPrivacySetting answers, 'required' (needAuthorization), 'refused' (the user
  // disagreed in this launch), 'authorised'. Base libraries without the APIs count as authorised. Until
  // authorised no event is sent: new events are held in memory (bounded, oldest dropped, never stored), sent
  // after an agree and dropped after a disagree.
  var privacy = { state: 'unknown', contractName: null, held: [], handler: null, listening: false };
  var consentStore = null; // { pending: {purpose: decision}, recorded: {user_id, purposes: {purpose: decision}} }
  var consentChain = Promise.resolve();
  var lastConsents = null; // the server's answer to the last consent post (the user's current state)

  function buildEvent(name, props, page) {
    return {
      event_id: uuid(),
      name: name,
      ts: now(),
      anonymous_id: getAnonymousId(),
      session_id: sessionId,
      page: page !== undefined ? page : currentRoute,
      scene: scene,
      channel: channel || (cfg && cfg.channel) || null,
      properties: isObject(props) ? cloneJson(props) : {}
    };
  }

  function persist() {
    if (!ready) return;
    if (sSet(cfg.storageKey, queue)) return;
    // Most likely the per-key storage quota (1 MB in WeChat): keep the newest events that fit.
    for (var n = queue.length >> 1; n > 0; n = n >> 1) {
      if (sSet(cfg.storageKey, queue.slice(queue.length - n))) {
        warn('storage quota: only the newest ' + n + ' of ' + queue.length + ' queued events persisted');
        return;
      }
    }
  }

  function trimQueue() {
    var over = queue.length - cfg.maxQueue;
    if (over > 0) {
      queue.splice(0, over);
      log('queue full: dropped ' + over + ' oldest event(s)');
    }
  }

  function enqueue(ev) {
    if (!ready) {
      preInit.push(ev);
      if (preInit.length > PRE_INIT_MAX) preInit.shift();
      return;
    }
    if (!privacyOk()) {
      holdEvent(ev);
      return;
    }
    queue.push(ev);
    trimQueue();
    persist(); // persisted before any send
    log('track', ev.name, ev);
    pump();
    scheduleFlushTimer();
  }

  function track(name, properties, page) {
    if (typeof name !== 'string' || !name) {
      warn('track(name, properties): name must be a non-empty string');
      return false;
    }
    enqueue(buildEvent(name, properties, page));
    return true;
  }

  function scheduleFlushTimer() {
    if (!ready || flushTimer || cfg.flushInterval <= 0 || !queue.length) return;
    flushTimer = setT(function () {
      flushTimer = null;
      safe(requestDrain, null, [false]);
    }, cfg.flushInterval);
  }

  function settleWaiters(ok) {
    draining = false;
    var ws = waiters;
    var error = drainError;
    waiters = [];
    drainError = null; // a flush() reports what went wrong while it drained, not earlier failures
    var result = { ok: ok && !error, pending: queue.length + privacy.held.length };
    if (error) result.error = error;
    ws.forEach(function (resolve) {
      resolve(result);
    });
  }

  // A failed delivery, made loud: flush() resolves {ok: false, error}, config.onError(error) is called, and a
  // refusal (4xx, events dropped) is logged with console.warn even without `debug`.
  function deliveryError(kind, status, body, count, willRetry, errMsg) {
    var code = isObject(body) && typeof body.code === 'string' ? body.code : null;
    var detail = isObject(body) && typeof body.message === 'string' ? body.message : null;
    var what;
    if (kind === 'network') what = 'network error' + (errMsg ? ' (' + errMsg + ')' : '');
    else what = 'HTTP ' + status + (code ? ' ' + code : '') + (detail ? ' (' + detail + ')' : '');
    var outcome = willRetry ? count + ' event(s) kept, retried with backoff' : count + ' event(s) dropped';
    var head = kind === 'rejected' ? 'huoli: events rejected by the server: ' : 'huoli: events not delivered: ';
    var err = new Error(head + what + '; ' + outcome);
    err.kind = kind; // 'refused' (4xx), 'rejected' (2xx listing invalid events), 'retrying' (5xx/408/429), 'network'
    err.statusCode = status || null;
    err.code = code;
    err.body = body === undefined ? null : body;
    err.willRetry = !!willRetry;
    err.dropped = willRetry ? 0 : count;
    if (code === 'unknown_app' || code === 'missing_app_id') {
      err.message += '. appId must be your mini-program\'s AppID (wx…) registered with huoli (`huoli apps create --wx-appid`), or its huoli app id';
    }
    drainError = err;
    if (!willRetry || (status >= 400 && status < 500)) warn(err.message, err.body);
    else log(err.message);
    if (cfg && typeof cfg.onError === 'function') {
      try {
        cfg.onError(err);
      } catch (e) {
        warn('onError callback threw (ignored):', e);
      }
    }
    return err;
  }

  // force: bypass a pending backoff (explicit flush() and app_hide)
  function requestDrain(force) {
    if (!ready) return;
    draining = true;
    if (force && retryTimer) {
      clearT(retryTimer);
      retryTimer = null;
    }
    if (flushTimer) {
      clearT(flushTimer);
      flushTimer = null;
    }
    pump();
  }

  function pump() {
    if (!ready || inFlight) return;
    if (!privacyOk()) {
      // Nothing leaves the device before the privacy guide is authorised; flush() waiters learn it now.
      if (waiters.length) settleWaiters(false);
      return;
    }
    if (!queue.length) {
      settleWaiters(true);
      return;
    }
    if (retryTimer) return; // backing off; the retry timer will resume
    if (draining || queue.length >= cfg.batchSize) {
      send();
      return;
    }
    scheduleFlushTimer();
  }

  function backoffDelay(n) {
    var d = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * Math.pow(2, n - 1));
    if (cfg.retryJitter) d = d / 2 + random() * (d / 2);
    return Math.round(d);
  }

  function scheduleRetry(res, batch, errMsg) {
    var status = res ? Number(res.statusCode) : null;
    deliveryError(res ? 'retrying' : 'network', status, res ? parseBody(res.data) : null, batch.length, true, errMsg);
    attempts++;
    var delay = backoffDelay(attempts);
    var ra = res && res.header && (res.header['Retry-After'] || res.header['retry-after']);
    if (ra !== undefined && isFinite(Number(ra))) {
      delay = Math.min(RETRY_MAX_MS, Math.max(delay, Number(ra) * 1000));
    }
    log('send failed; retry #' + attempts + ' in ' + delay + ' ms');
    retryTimer = setT(function () {
      retryTimer = null;
      safe(requestDrain, null, [false]);
    }, delay);
    settleWaiters(false);
  }

  function removeFromQueue(batch) {
    var ids = {};
    batch.forEach(function (e) {
      ids[e.event_id] = true;
    });
    queue = queue.filter(function (e) {
      return !ids[e.event_id];
    });
    persist();
  }

  function parseBody(data) {
    if (typeof data === 'string') {
      try {
        return JSON.parse(data);
      } catch (e) {
        return null;
      }
    }
    return data;
  }

  function handleResult(batch, usedToken, res, err) {
    if (err || !res) {
      scheduleRetry(null, batch, err && err.errMsg);
      return;
    }
    var status = Number(res.statusCode);
    if (status >= 200 && status < 300) {
      var body = parseBody(res.data);
      attempts = 0;
      removeFromQueue(batch);
      if (isObject(body) && Array.isArray(body.rejected) && body.rejected.length) {
        // Invalid events never become valid: dropped, but said out loud (their field errors are in the body).
        var rej = deliveryError('rejected', status, body, body.rejected.length, false);
        rej.rejected = body.rejected;
      }
      pump();
      return;
    }
    if (status === 401 && usedToken) {
      log('401: session token rejected; clearing it and retrying anonymously');
      if (token === usedToken) clearAuth();
      pump();
      return;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // A refusal (bad app id, invalid batch…) is the same on every retry: drop it rather than retry forever.
      deliveryError('refused', status, parseBody(res.data), batch.length, false);
      attempts = 0;
      removeFromQueue(batch);
      pump();
      return;
    }
    scheduleRetry(res, batch); // 408, 429, 5xx, anything else
  }

  function send() {
    var w = getWx();
    var batch = queue.slice(0, cfg.batchSize);
    var usedToken = currentToken();
    var header = { 'Content-Type': 'application/json', 'X-Huoli-App-Id': cfg.appId };
    if (usedToken) header.Authorization = 'Bearer ' + usedToken;
    inFlight = true;
    var done = false;
    function finish(res, err) {
      if (done) return;
      done = true;
      inFlight = false;
      safe(handleResult, null, [batch, usedToken, res, err]);
    }
    log('sending ' + batch.length + ' event(s)');
    try {
      w.request({
        url: cfg.endpoint + '/v1/events',
        method: 'POST',
        header: header,
        data: { sent_at: now(), events: batch },
        dataType: 'json',
        timeout: cfg.requestTimeout,
        success: function (res) {
          finish(res, null);
        },
        fail: function (e) {
          finish(null, e || { errMsg: 'request:fail' });
        }
      });
    } catch (e) {
      finish(null, e);
    }
  }

  // ---- feature flags & preferences (GET /v1/flags, PUT /v1/preferences) ----
  // Cached in memory and wx storage with the server's TTL. A failed fetch serves the last cached flags
  // of the same user (offline fallback), or {} — getFlags() never rejects, so pages can always render.
  var flagsCache = null; // { fetched_at, ttl_ms, user_id, flags, experiments, preferences }
  var flagsInFlight = null;

  function loadFlagsCache() {
    if (flagsCache) return flagsCache;
    var c = sGet(FLAGS_KEY);
    if (isObject(c) && isObject(c.flags) && typeof c.fetched_at === 'number') flagsCache = c;
    return flagsCache;
  }

  function flagsUsable(c) {
    // Flags are per user (or per device before login): never serve another identity's cached flags.
    return !!c && (c.user_id || null) === (userId || null) && (!!userId || c.anonymous_id === anonId);
  }

  function flagsFresh(c) {
    return flagsUsable(c) && now() - c.fetched_at < c.ttl_ms && c.fetched_at <= now();
  }

  function flagsView(c, stale) {
    if (!c) return { flags: {}, experiments: {}, preferences: null, stale: true };
    return {
      flags: c.flags,
      experiments: c.experiments || {},
      preferences: c.preferences || null,
      stale: !!stale
    };
  }

  function fetchFlags(attributes) {
    return new Promise(function (resolve) {
      var w = getWx();
      var tok = currentToken();
      var header = { 'X-Huoli-App-Id': cfg.appId };
      if (tok) header.Authorization = 'Bearer ' + tok;
      var qs = 'anonymous_id=' + encodeURIComponent(getAnonymousId());
      if (isObject(attributes) && Object.keys(attributes).length) {
        qs += '&attributes=' + encodeURIComponent(JSON.stringify(attributes));
      }
      var fallback = function (why) {
        log('flags fetch failed (' + why + '); serving cached flags');
        var c = loadFlagsCache();
        resolve(flagsView(flagsUsable(c) ? c : null, true));
      };
      try {
        w.request({
          url: cfg.endpoint + '/v1/flags?' + qs,
          method: 'GET',
          header: header,
          dataType: 'json',
          timeout: cfg.requestTimeout,
          success: function (res) {
            var body = parseBody(res && res.data);
            if (!res || res.statusCode !== 200 || !isObject(body) || !isObject(body.flags)) {
              fallback('HTTP ' + (res && res.statusCode));
              return;
            }
            var ttl = typeof body.ttl_s === 'number' && body.ttl_s >= 0 ? body.ttl_s * 1000 : FLAGS_TTL_MS;
            if (cfg.flagsTtl !== null) ttl = cfg.flagsTtl;
            flagsCache = {
              fetched_at: now(),
              ttl_ms: ttl,
              user_id: userId || null,
              anonymous_id: anonId,
              flags: body.flags,
              experiments: isObject(body.experiments) ? body.experiments : {},
              preferences: isObject(body.preferences) ? body.preferences : null
            };
            sSet(FLAGS_KEY, flagsCache);
            resolve(flagsView(flagsCache, false));
          },
          fail: function (e) {
            fallback((e && e.errMsg) || 'request:fail');
          }
        });
      } catch (e) {
        fallback(e && e.message);
      }
    });
  }

  /** { flags, experiments, preferences, stale }; options: { force: true, attributes: {...} }. */
  function getFlags(options) {
    options = options || {};
    if (!ready) return Promise.resolve(flagsView(null, true));
    loadIdentity();
    var c = loadFlagsCache();
    if (!options.force && !options.attributes && flagsFresh(c)) return Promise.resolve(flagsView(c, false));
    if (flagsInFlight && !options.attributes) return flagsInFlight;
    var p = fetchFlags(options.attributes);
    if (!options.attributes) {
      flagsInFlight = p;
      p.then(function () {
        flagsInFlight = null;
      });
    }
    return p;
  }

  function pick(view, key, dflt) {
    return Object.prototype.hasOwnProperty.call(view.flags, key) && view.flags[key] !== null
      ? view.flags[key]
      : dflt;
  }

  function getFlag(key, dflt) {
    return getFlags().then(function (view) {
      return pick(view, key, dflt);
    });
  }

  /** Synchronous read of the cached value (no request): for rendering before getFlags() resolves. */
  function peekFlag(key, dflt) {
    loadIdentity();
    var c = loadFlagsCache();
    return flagsUsable(c) ? pick(flagsView(c), key, dflt) : dflt;
  }

  function setPreferences(prefs) {
    return new Promise(function (resolve, reject) {
      if (!ready) return reject(new Error('huoli: call init() first'));
      var tok = currentToken();
      if (!tok) return reject(new Error('huoli: setPreferences() needs login() first'));
      getWx().request({
        url: cfg.endpoint + '/v1/preferences',
        method: 'PUT',
        header: { 'Content-Type': 'application/json', 'X-Huoli-App-Id': cfg.appId, Authorization: 'Bearer ' + tok },
        data: prefs,
        dataType: 'json',
        timeout: cfg.requestTimeout,
        success: function (res) {
          var body = parseBody(res && res.data);
          if (!res || res.statusCode !== 200) {
            var err = new Error('huoli: preferences rejected: HTTP ' + (res && res.statusCode));
            err.statusCode = res && res.statusCode;
            err.body = body;
            return reject(err);
          }
          var c = loadFlagsCache();
          if (flagsUsable(c)) {
            c.preferences = body;
            c.fetched_at = 0; // flags may target preferences: refetch on the next getFlags()
            sSet(FLAGS_KEY, c);
          }
          resolve(body);
        },
        fail: function (e) {
          reject(new Error('huoli: preferences request failed: ' + ((e && e.errMsg) || 'request:fail')));
        }
      });
    });
  }

  // ---- calls to the other mini-program APIs (/v1/loyalty/*, /v1/promotions/*, …) ----

  /**
   * request({path, method?, data?}): the app's header, the session token when logged in, the device id (the
   * promotions' velocity checks); resolves the JSON body of a 2xx, rejects an Error with statusCode, code
   * (the server's error code), body. A 401 on a token clears it, like the event path (log in again).
   */
  function apiRequest(options) {
    return new Promise(function (resolve, reject) {
      if (!ready) return reject(new Error('huoli: init() must be called before request()'));
      if (!isObject(options) || typeof options.path !== 'string' || options.path.charAt(0) !== '/') {
        return reject(new Error('huoli: request({path}): path must start with "/"'));
      }
      var tok = currentToken();
      var header = { 'Content-Type': 'application/json', 'X-Huoli-App-Id': cfg.appId, 'X-Huoli-Device-Id': getAnonymousId() };
      if (tok) header.Authorization = 'Bearer ' + tok;
      var method = options.method ? String(options.method).toUpperCase() : 'GET';
      var req = {
        url: cfg.endpoint + options.path,
        method: method,
        header: header,
        dataType: 'json',
        timeout: cfg.requestTimeout,
        success: function (res) {
          var body = parseBody(res && res.data);
          var status = res && Number(res.statusCode);
          if (status >= 200 && status < 300) return resolve(body);
          if (status === 401 && tok && token === tok) clearAuth();
          var code = isObject(body) && typeof body.code === 'string' ? body.code : null;
          var msg = isObject(body) && typeof body.message === 'string' ? body.message : '';
          var err = new Error('huoli: ' + method + ' ' + options.path + ': HTTP ' + status + (code ? ' ' + code : '') + (msg ? ' (' + msg + ')' : ''));
          err.statusCode = status;
          err.code = code;
          err.body = body;
          if (status >= 400 && status < 500 && status !== 409) warn(err.message); // 409: a business answer (sold out…)
          reject(err);
        },
        fail: function (e) {
          var err = new Error('huoli: ' + method + ' ' + options.path + ': ' + ((e && e.errMsg) || 'request:fail'));
          err.statusCode = null;
          err.code = 'network';
          reject(err);
        }
      };
      if (options.data !== undefined) req.data = options.data;
      try {
        getWx().request(req);
      } catch (e) {
        reject(e);
      }
    });
  }

  // ---- privacy authorisation (用户隐私保护指引) and consent records ----

  function privacyOk() {
    return privacy.state === 'authorised';
  }

  function wxFn(name) {
    var w = getWx();
    return w && typeof w[name] === 'function' ? w : null;
  }

  function holdEvent(ev) {
    if (privacy.state === 'refused') {
      log('privacy guide refused: event dropped', ev.name);
      return;
    }
    privacy.held.push(ev);
    var over = privacy.held.length - (cfg ? cfg.privacyHoldMax : PRIVACY_HOLD_MAX);
    if (over > 0) privacy.held.splice(0, over);
    log('held until the privacy guide is authorised:', ev.name);
  }

  function authorise(record) {
    var was = privacy.state;
    privacy.state = 'authorised';
    if (ready && privacy.held.length) {
      queue = queue.concat(privacy.held);
      privacy.held = [];
      trimQueue();
      persist();
    }
    if (record) setPendingConsent('privacy_policy', true, cfg ? cfg.policyVersion : 'unversioned');
    if (ready) {
      if (was !== 'authorised') log('privacy guide authorised; sending queued events');
      if (queue.length) requestDrain(false);
      sendConsents();
    }
  }

  function refuse() {
    privacy.state = 'refused';
    privacy.held = [];
    // A "no" is sent only to withdraw an earlier "yes" of this user: it stops processing elsewhere.
    if (recordedConsent('privacy_policy') === true) {
      setPendingConsent('privacy_policy', false, cfg ? cfg.policyVersion : 'unversioned');
      sendConsents();
    }
  }

  function onPrivacySetting(res) {
    res = isObject(res) ? res : {};
    if (typeof res.privacyContractName === 'string') privacy.contractName = res.privacyContractName;
    if (res.needAuthorization === true) {
      if (privacy.state !== 'refused') privacy.state = 'required';
      // Authorisation withdrawn in WeChat's settings since this user's recorded "yes": record the withdrawal.
      if (recordedConsent('privacy_policy') === true) {
        setPendingConsent('privacy_policy', false, cfg ? cfg.policyVersion : 'unversioned');
        sendConsents();
      }
    } else {
      authorise(false); // WeChat says nothing needs asking: no decision to record
    }
  }

  function readPrivacySetting() {
    var w = wxFn('getPrivacySetting');
    if (!w) {
      authorise(false); // base library < 2.32.3: no privacy authorisation to wait for
      return;
    }
    try {
      w.getPrivacySetting({
        success: function (res) {
          safe(onPrivacySetting, null, [res]);
        },
        fail: function (e) {
          log('getPrivacySetting failed; treated as authorised', e && e.errMsg);
          safe(authorise, null, [false]);
        }
      });
    } catch (e) {
      authorise(false);
    }
  }

  function getPrivacySetting() {
    return new Promise(function (resolve) {
      var w = wxFn('getPrivacySetting');
      if (!w) return resolve({ supported: false, needAuthorization: false, privacyContractName: null });
      try {
        w.getPrivacySetting({
          success: function (res) {
            safe(onPrivacySetting, null, [res]);
            resolve({
              supported: true,
              needAuthorization: !!(res && res.needAuthorization),
              privacyContractName: (res && res.privacyContractName) || null
            });
          },
          fail: function (e) {
            resolve({ supported: true, needAuthorization: false, privacyContractName: null, errMsg: e && e.errMsg });
          }
        });
      } catch (e) {
        resolve({ supported: false, needAuthorization: false, privacyContractName: null });
      }
    });
  }

  function onNeedAuthorization(handler) {
    if (typeof handler !== 'function') {
      warn('privacy.onNeedAuthorization(handler): handler must be a function');
      return false;
    }
    privacy.handler = handler;
    var w = wxFn('onNeedPrivacyAuthorization');
    if (!w) return false; // no such event on this base library: nothing will ever need authorising
    if (privacy.listening) return true; // one WeChat listener dispatches to the latest handler
    privacy.listening = true;
    w.onNeedPrivacyAuthorization(function (resolve, eventInfo) {
      // The page shows its own pop-up and calls resolve({event: 'agree' | 'disagree' | 'exposureAuthorization'}).
      var wrapped = function (arg) {
        var out = typeof resolve === 'function' ? resolve(arg) : undefined;
        var ev = arg && arg.event;
        if (ev === 'agree') safe(authorise, null, [true]);
        else if (ev === 'disagree') safe(refuse);
        return out;
      };
      try {
        privacy.handler(wrapped, eventInfo);
      } catch (e) {
        warn('privacy handler failed:', e);
      }
    });
    return true;
  }

  function requireAuthorize() {
    return new Promise(function (resolve) {
      var w = wxFn('requirePrivacyAuthorize');
      if (!w) {
        resolve({ authorised: true, supported: false });
        return;
      }
      try {
        w.requirePrivacyAuthorize({
          success: function () {
            safe(authorise, null, [true]);
            resolve({ authorised: true, supported: true });
          },
          fail: function (e) {
            var msg = (e && e.errMsg) || 'requirePrivacyAuthorize:fail';
            // errno 104: the user did not agree; anything else (a scope not declared…) changes nothing.
            if ((e && e.errno === 104) || /not authorized|disagree|deny/i.test(msg)) safe(refuse);
            resolve({ authorised: false, supported: true, errMsg: msg });
          }
        });
      } catch (e) {
        resolve({ authorised: privacyOk(), supported: true, errMsg: e && e.message });
      }
    });
  }

  function loadConsents() {
    if (consentStore) return consentStore;
    var c = sGet(CONSENT_KEY);
    consentStore = {
      pending: isObject(c) && isObject(c.pending) ? c.pending : {},
      recorded: isObject(c) && isObject(c.recorded) && isObject(c.recorded.purposes) ? c.recorded : { user_id: null, purposes: {} }
    };
    return consentStore;
  }

  function saveConsents() {
    sSet(CONSENT_KEY, consentStore);
  }

  function recordedConsent(purpose) {
    loadIdentity();
    var rec = loadConsents().recorded;
    if (!userId || rec.user_id !== userId || !isObject(rec.purposes[purpose])) return null;
    return rec.purposes[purpose].granted;
  }

  // Returns the decision object: the request that sends it marks its outcome on it (setConsent reads it).
  function setPendingConsent(purpose, granted, version) {
    var c = loadConsents();
    var d = { granted: granted, policy_version: version, at: now() };
    c.pending[purpose] = d;
    saveConsents();
    return d;
  }

  // Decisions wait for a session token; a "yes" also waits for the privacy guide, a "no" never does.
  function sendableConsents() {
    var c = loadConsents();
    var out = [];
    Object.keys(c.pending).forEach(function (purpose) {
      var d = c.pending[purpose];
      if (!isObject(d)) return void delete c.pending[purpose];
      var rec = c.recorded.user_id === userId && c.recorded.purposes[purpose];
      if (isObject(rec) && rec.granted === d.granted && rec.policy_version === d.policy_version) {
        delete c.pending[purpose]; // already recorded for this user: no request
        d.outcome = { recorded: true, consents: lastConsents };
        return;
      }
      if (d.granted === true && !privacyOk()) return;
      out.push({ purpose: purpose, decision: d });
    });
    return out;
  }

  function postConsents() {
    return new Promise(function (resolve) {
      if (!ready) return resolve({ sent: false, reason: 'init' });
      var tok = currentToken();
      if (!tok) return resolve({ sent: false, reason: 'login' });
      var batch = sendableConsents();
      saveConsents();
      if (!batch.length) return resolve({ sent: false, reason: Object.keys(consentStore.pending).length ? 'privacy' : 'none' });
      var sentFor = userId;
      try {
        getWx().request({
          url: cfg.endpoint + '/v1/privacy/consents',
          method: 'POST',
          header: { 'Content-Type': 'application/json', 'X-Huoli-App-Id': cfg.appId, Authorization: 'Bearer ' + tok },
          data: {
            consents: batch.map(function (b) {
              return { purpose: b.purpose, granted: b.decision.granted, policy_version: b.decision.policy_version };
            })
          },
          dataType: 'json',
          timeout: cfg.requestTimeout,
          success: function (res) {
            var body = parseBody(res && res.data);
            var status = res && Number(res.statusCode);
            var c = loadConsents();
            if (status === 200) {
              if (c.recorded.user_id !== sentFor) c.recorded = { user_id: sentFor, purposes: {} };
              lastConsents = isObject(body) && Array.isArray(body.consents) ? body.consents : null;
              batch.forEach(function (b) {
                b.decision.outcome = { recorded: true, consents: lastConsents };
                c.recorded.purposes[b.purpose] = { granted: b.decision.granted, policy_version: b.decision.policy_version };
                if (c.pending[b.purpose] === b.decision) delete c.pending[b.purpose]; // unless changed meanwhile
              });
              saveConsents();
              return resolve({ sent: true });
            }
            if (status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429) {
              batch.forEach(function (b) {
                b.decision.outcome = { rejected: true, statusCode: status, body: body };
                if (c.pending[b.purpose] === b.decision) delete c.pending[b.purpose]; // never valid: not retried
              });
              saveConsents();
              warn('consent refused by the server: HTTP ' + status, body);
              return resolve({ sent: false, reason: 'rejected' });
            }
            resolve({ sent: false, reason: 'network', statusCode: status }); // kept: retried on the next trigger
          },
          fail: function (e) {
            resolve({ sent: false, reason: 'network', errMsg: e && e.errMsg });
          }
        });
      } catch (e) {
        resolve({ sent: false, reason: 'network', errMsg: e && e.message });
      }
    });
  }

  /** Send the pending decisions that may go now; one request at a time. Never rejects. */
  function sendConsents() {
    var run = function () {
      return postConsents().catch(function (e) {
        return { sent: false, reason: 'error', errMsg: e && e.message };
      });
    };
    consentChain = consentChain.then(run, run);
    return consentChain;
  }

  function setConsent(purpose, granted, policyVersion) {
    if (typeof purpose !== 'string' || !purpose || typeof granted !== 'boolean') {
      return Promise.reject(new Error('huoli: privacy.setConsent(purpose, granted): a purpose name and a boolean'));
    }
    var d;
    try {
      loadIdentity();
      var version = policyVersion ? String(policyVersion) : cfg ? cfg.policyVersion : 'unversioned';
      d = setPendingConsent(purpose, granted, version);
    } catch (e) {
      return Promise.reject(e);
    }
    // An earlier queued send may carry this decision: its outcome is marked on the decision itself.
    return sendConsents().then(function (r) {
      var out = d.outcome;
      if (out && out.rejected) {
        var err = new Error('huoli: consent rejected: HTTP ' + out.statusCode);
        err.statusCode = out.statusCode;
        err.body = out.body;
        throw err;
      }
      if (out && out.recorded) return { recorded: true, pending: false, consents: out.consents };
      var waiting = loadConsents().pending[purpose] === d;
      return { recorded: false, pending: waiting, reason: waiting ? (r.reason === 'none' ? 'privacy' : r.reason) : 'superseded' };
    });
  }

  // ---- public: init / flush / identity ----
  function init(config) {
    try {
      if (ready) {
        warn('init() called more than once; ignored');
        return false;
      }
      if (!config || !config.appId || !config.endpoint) {
        if (con && con.error) con.error('[huoli] init(config): appId and endpoint are required');
        return false;
      }
      if (!getWx()) {
        if (con && con.error) con.error('[huoli] init(): no `wx` object available');
        return false;
      }
      cfg = {
        appId: String(config.appId),
        endpoint: String(config.endpoint).replace(/\/+$/, ''),
        batchSize: toInt(config.batchSize, DEFAULTS.batchSize, 1, MAX_BATCH),
        flushInterval: toInt(config.flushInterval, DEFAULTS.flushInterval, 0),
        maxQueue: toInt(config.maxQueue, DEFAULTS.maxQueue, 1),
        storageKey: config.storageKey ? String(config.storageKey) : DEFAULTS.storageKey,
        sessionTimeout: toInt(config.sessionTimeout, DEFAULTS.sessionTimeout, 0),
        requestTimeout: toInt(config.requestTimeout, DEFAULTS.requestTimeout, 1),
        debug: !!config.debug,
        channel: config.channel ? String(config.channel) : null,
        campaign: config.campaign ? String(config.campaign) : null,
        retryJitter: config.retryJitter !== false,
        onError: typeof config.onError === 'function' ? config.onError : null,
        policyVersion: config.policyVersion ? String(config.policyVersion) : 'unversioned',
        privacyHoldMax: toInt(config.privacyHoldMax, PRIVACY_HOLD_MAX, 0),
        flagsTtl: config.flagsTtl === undefined || config.flagsTtl === null ? null : toInt(config.flagsTtl, 0, 0)
      };
      if (typeof config.now === 'function') nowFn = config.now;
      loadIdentity();

      var stored = sGet(cfg.storageKey);
      var restored = Array.isArray(stored)
        ? stored.filter(function (e) {
            return isObject(e) && typeof e.event_id === 'string' && typeof e.name === 'string';
          })
        : [];
      preInit.forEach(function (e) {
        if (!e.channel && cfg.channel) e.channel = cfg.channel;
      });
      ready = true;
      readPrivacySetting(); // before the buffered events: they are held if the guide is not authorised
      queue = restored;
      preInit.forEach(function (e) {
        if (privacyOk()) queue.push(e);
        else holdEvent(e);
      });
      preInit = [];
      trimQueue();
      persist();
      log('init', cfg, 'restored ' + restored.length + ' queued event(s)');
      if (queue.length) requestDrain(false);
      sendConsents();
      return true;
    } catch (e) {
      warn('init failed:', e);
      return false;
    }
  }

  function flush() {
    return new Promise(function (resolve) {
      try {
        if (!ready) {
          resolve({ ok: false, pending: preInit.length });
          return;
        }
        waiters.push(resolve);
        sendConsents();
        requestDrain(true);
      } catch (e) {
        resolve({ ok: false, pending: queue.length });
      }
    });
  }

  function identify(tok, uid, expiresAt) {
    try {
      loadIdentity();
      if (!tok) {
        clearAuth();
        return;
      }
      setAuth(String(tok), uid, expiresAt);
      sendConsents();
    } catch (e) {
      warn('identify failed:', e);
    }
  }

  function login() {
    return new Promise(function (resolve, reject) {
      try {
        if (!ready) throw new Error('huoli: init() must be called before login()');
        var w = getWx();
        var fail = function (msg, extra) {
          var err = new Error('huoli login failed: ' + msg);
          if (extra) Object.assign(err, extra);
          reject(err);
        };
        w.login({
          success: function (res) {
            try {
              if (!res || !res.code) return fail('wx.login returned no code');
              w.request({
                url: cfg.endpoint + '/v1/auth/wechat',
                method: 'POST',
                header: { 'Content-Type': 'application/json', 'X-Huoli-App-Id': cfg.appId },
                data: { code: res.code, anonymous_id: getAnonymousId() },
                dataType: 'json',
                timeout: cfg.requestTimeout,
                success: function (r) {
                  var body = parseBody(r && r.data);
                  if (r && r.statusCode === 200 && isObject(body) && typeof body.token === 'string' && body.token) {
                    setAuth(body.token, body.user_id, body.expires_at);
                    log('logged in as', userId);
                    sendConsents(); // decisions made before the login
                    resolve({ userId: userId, expiresAt: body.expires_at || null });
                  } else {
                    fail('HTTP ' + (r && r.statusCode), { statusCode: r && r.statusCode, body: body });
                  }
                },
                fail: function (e) {
                  fail((e && e.errMsg) || 'request failed');
                }
              });
            } catch (e) {
              fail(e && e.message ? e.message : String(e));
            }
          },
          fail: function (e) {
            fail('wx.login: ' + ((e && e.errMsg) || 'failed'));
          }
        });
      } catch (e) {
        reject(e);
      }
    });
  }

  function reset() {
    try {
      clearAuth();
      anonId = uuid();
      identityLoaded = !!getWx();
      sSet(ANON_KEY, anonId);
      newSession();
    } catch (e) {
      warn('reset failed:', e);
    }
  }

  // ---- auto-tracking: App ----
  function launchOptions() {
    var w = getWx();
    try {
      return (w && typeof w.getLaunchOptionsSync === 'function' && w.getLaunchOptionsSync()) || {};
    } catch (e) {
      return {};
    }
  }

  function readEntry(options) {
    var q = isObject(options.query) ? options.query : {};
    var s = toScene(options.scene);
    if (s !== null) scene = s;
    var ch = queryValue(q, 'hl_channel') || queryValue(q, 'channel');
    if (ch) setChannel(ch);
    return q;
  }

  function checkShareOpen(query) {
    var sid = queryValue(query, 'hl_share_id');
    if (!sid || seenShareIds[sid]) return;
    seenShareIds[sid] = true;
    track('share_open', {
      share_id: sid,
      sharer_id: queryValue(query, 'hl_sharer'),
      campaign: queryValue(query, 'hl_campaign')
    });
  }

  function onAppLaunch(options) {
    options = isObject(options) ? options : launchOptions();
    var q = readEntry(options);
    track('app_launch', { path: options.path || null, query: q });
    checkShareOpen(q);
  }

  function onAppShow(options) {
    options = isObject(options) ? options : {};
    var t = now();
    var timeout = cfg ? cfg.sessionTimeout : DEFAULTS.sessionTimeout;
    if (app.lastHideAt !== null && t - app.lastHideAt >= timeout) newSession();
    app.lastHideAt = null;
    app.lastShowAt = t;
    var q = readEntry(options);
    track('app_show', { path: options.path || null });
    checkShareOpen(q);
  }

  function onAppHide() {
    var t = now();
    if (currentView) closeView(currentView, t); // make sure the page_leave goes out with this flush
    var dur = app.lastShowAt !== null ? Math.max(0, t - app.lastShowAt) : 0;
    track('app_hide', { duration_ms: Math.round(dur) });
    app.lastHideAt = t;
    app.lastShowAt = null;
  }

  // ---- auto-tracking: Page ----
  var pageStates = typeof WeakMap === 'function' ? new WeakMap() : null;

  function routeOf(pg) {
    return (pg && (pg.route || pg.__route__)) || null;
  }
  function pageState(pg) {
    var s = pageStates ? pageStates.get(pg) : pg && pg.__huoliState;
    if (!s) {
      s = { route: routeOf(pg), query: {}, loadAt: null, showAt: null, open: false, perfDone: false };
      if (pageStates) pageStates.set(pg, s);
      else Object.defineProperty(pg, '__huoliState', { value: s });
    }
    var r = routeOf(pg);
    if (r) s.route = r;
    return s;
  }

  function onPageLoad(pg, query) {
    var s = pageState(pg);
    s.loadAt = now();
    s.query = isObject(query) ? cloneJson(query) : {};
  }

  function onPageShow(pg) {
    var s = pageState(pg);
    var t = now();
    if (s.open) closeView(s, t);
    if (!s.query || !Object.keys(s.query).length) {
      if (isObject(pg.options)) s.query = cloneJson(pg.options);
    }
    var referrer = lastViewedRoute;
    currentRoute = s.route;
    lastViewedRoute = s.route;
    s.open = true;
    s.showAt = t;
    currentView = s;
    track('page_view', { query: s.query || {}, referrer_page: referrer }, s.route);
  }

  function closeView(s, t) {
    if (!s.open) return;
    s.open = false;
    if (currentView === s) currentView = null;
    track('page_leave', { duration_ms: Math.max(0, Math.round(t - s.showAt)) }, s.route);
  }

  function onPageLeave(pg) {
    closeView(pageState(pg), now());
  }

  function onPageReady(pg) {
    var s = pageState(pg);
    if (s.perfDone || s.loadAt === null) return;
    s.perfDone = true;
    track('perf', { load_ms: Math.max(0, Math.round(now() - s.loadAt)) }, s.route);
  }

  function shareContext(pg) {
    var s = pageStates ? pageStates.get(pg) : pg && pg.__huoliState;
    var route = routeOf(pg) || (s && s.route) || currentRoute;
    var query = (s && s.query) || (isObject(pg && pg.options) ? pg.options : {});
    return { route: route, query: query };
  }

  function augmentShare(pg, ret, timeline) {
    var ctx = shareContext(pg);
    var out = isObject(ret) ? Object.assign({}, ret) : {};
    var shareId = uuid();
    loadIdentity();
    var sharer = userId || getAnonymousId();
    var campaign = (out.campaign ? String(out.campaign) : null) || (cfg && cfg.campaign) || null;
    var params = [
      ['hl_sharer', sharer],
      ['hl_share_id', shareId]
    ];
    if (campaign) params.push(['hl_campaign', campaign]);
    var props = { share_id: shareId, sharer_id: sharer, campaign: campaign, target_path: null };

    if (timeline) {
      var baseQuery;
      if (typeof out.query === 'string') baseQuery = out.query;
      else if (isObject(out.query)) baseQuery = queryToString(out.query);
      else baseQuery = queryToString(ctx.query);
      out.query = appendToQuery(baseQuery, params);
      props.target_path = (ctx.route ? '/' + ctx.route : '') + '?' + out.query;
      props.to = 'timeline';
    } else {
      var basePath;
      if (typeof out.path === 'string' && out.path) basePath = out.path;
      else if (ctx.route) {
        var qs = queryToString(ctx.query);
        basePath = '/' + ctx.route + (qs ? '?' + qs : '');
      } else return ret; // nothing sensible to rewrite
      out.path = appendToPath(basePath, params);
      props.target_path = out.path;
      if (out.promise && typeof out.promise.then === 'function') {
        // WeChat >= 2.12: the card may be replaced by what `promise` resolves to within 3 s.
        out.promise = out.promise.then(function (r) {
          try {
            if (isObject(r)) {
              r = Object.assign({}, r);
              r.path = appendToPath(typeof r.path === 'string' && r.path ? r.path : basePath, params);
            }
          } catch (e) {
            /* keep r */
          }
          return r;
        });
      }
    }
    track('share', props, ctx.route);
    return out;
  }

  // ---- wrappers ----
  function wrapHook(orig, before, after) {
    return function huoliHook() {
      var self = this;
      var args = arguments;
      if (before) safe(before, self, [self, args]);
      try {
        return typeof orig === 'function' ? orig.apply(self, args) : undefined;
      } finally {
        if (after) safe(after, self, [self, args]);
      }
    };
  }

  function wrapShareHook(orig, timeline) {
    return function huoliShareHook() {
      var ret = orig.apply(this, arguments);
      try {
        return augmentShare(this, ret, timeline);
      } catch (e) {
        if (cfg && cfg.debug) warn('share tracking failed (swallowed):', e);
        return ret;
      }
    };
  }

  function markWrapped(o) {
    try {
      Object.defineProperty(o, '__huoliWrapped', { value: true, enumerable: false });
    } catch (e) {
      /* ignore */
    }
    return o;
  }

  function wrapApp(options) {
    try {
      if (options && options.__huoliWrapped) return options;
      var o = Object.assign({}, options || {});
      o.onLaunch = wrapHook(o.onLaunch, function (self, args) {
        onAppLaunch(args[0]);
      });
      o.onShow = wrapHook(o.onShow, function (self, args) {
        onAppShow(args[0]);
      });
      o.onHide = wrapHook(
        o.onHide,
        function () {
          onAppHide();
        },
        function () {
          requestDrain(true); // flush immediately, after the host's own onHide tracked its events
        }
      );
      return markWrapped(o);
    } catch (e) {
      warn('wrapApp failed; App left unwrapped:', e);
      return options;
    }
  }

  function wrapPage(options) {
    try {
      if (options && options.__huoliWrapped) return options;
      var o = Object.assign({}, options || {});
      o.onLoad = wrapHook(o.onLoad, function (self, args) {
        onPageLoad(self, args[0]);
      });
      o.onShow = wrapHook(o.onShow, function (self) {
        onPageShow(self);
      });
      o.onReady = wrapHook(o.onReady, function (self) {
        onPageReady(self);
      });
      o.onHide = wrapHook(o.onHide, null, function (self) {
        onPageLeave(self);
      });
      o.onUnload = wrapHook(o.onUnload, null, function (self) {
        onPageLeave(self);
      });
      // Only wrap share hooks the page defines: defining them is what enables the share menu.
      if (typeof o.onShareAppMessage === 'function') o.onShareAppMessage = wrapShareHook(o.onShareAppMessage, false);
      if (typeof o.onShareTimeline === 'function') o.onShareTimeline = wrapShareHook(o.onShareTimeline, true);
      return markWrapped(o);
    } catch (e) {
      warn('wrapPage failed; Page left unwrapped:', e);
      return options;
    }
  }

  return {
    VERSION: VERSION,
    init: init,
    wrapApp: wrapApp,
    wrapPage: wrapPage,
    track: function (name, properties) {
      try {
        return track(name, properties);
      } catch (e) {
        warn('track failed:', e);
        return false;
      }
    },
    identify: identify,
    login: login,
    flush: flush,
    reset: reset,
    getAnonymousId: function () {
      try {
        return getAnonymousId();
      } catch (e) {
        return anonId;
      }
    },
    getSessionId: function () {
      return sessionId;
    },
    getUserId: function () {
      safe(loadIdentity);
      return userId;
    },
    getFlags: getFlags,
    getFlag: getFlag,
    peekFlag: function (key, dflt) {
      var v = safe(peekFlag, null, [key, dflt]);
      return v === undefined ? dflt : v;
    },
    setPreferences: setPreferences,
    request: apiRequest,
    privacy: {
      onNeedAuthorization: function (handler) {
        return !!safe(onNeedAuthorization, null, [handler]);
      },
      requireAuthorize: requireAuthorize,
      getSetting: getPrivacySetting,
      isAuthorised: privacyOk,
      getState: function () {
        return privacy.state;
      },
      setConsent: setConsent
    }
  };
}

var defaultInstance = createHuoli();
defaultInstance.createHuoli = createHuoli;

module.exports = defaultInstance;

#!/usr/bin/env node
'use strict';
// Sets up what the example's buttons use, through huoli's admin API (an operator key of your app):
//   a claimable coupon template, a flash-sale session running now with one item, and the banner flag.
// Usage: node scripts/seed.js --endpoint http://127.0.0.1:8000 --key hlk_…   (node >= 18; rerunning is harmless)
const config = require('../config.js');

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

async function call(endpoint, key, method, path, body) {
  const res = await fetch(endpoint + path, {
    method,
    headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status === 409) return { status: 'exists' }; // created by an earlier run
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return { status: 'created', body: text ? JSON.parse(text) : null };
}

async function seed({ endpoint, key, now = new Date() }) {
  endpoint = String(endpoint).replace(/\/+$/, '');
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  const done = {};
  done.coupon = await call(endpoint, key, 'POST', '/admin/promotions/coupon-templates', {
    id: config.couponTemplateId,
    name: '新人 5 元券',
    kind: 'fixed',
    amount_fen: 500,
    valid_days: 7,
    per_user_limit: 1,
    claim_trigger: 'user_claim',
  });
  const session = `example-${day}`;
  done.flashSession = await call(endpoint, key, 'POST', '/admin/promotions/flash/sessions', {
    id: session,
    name: '今日秒杀',
    starts_at: new Date(now.getTime() - 60 * 1000).toISOString(),
    ends_at: new Date(now.getTime() + 24 * 3600 * 1000).toISOString(),
  });
  done.flashItem = await call(endpoint, key, 'POST', '/admin/promotions/flash/items', {
    id: `${session}-tea`,
    session_id: session,
    item_id: 'tea-500g',
    price_fen: 990,
    original_price_fen: 1990,
    stock: 10,
    per_user_limit: 1,
  });
  done.flag = await call(endpoint, key, 'POST', '/admin/flags', {
    key: config.bannerFlag,
    type: 'string',
    default_value: '新人专享：每日签到送积分',
    description: 'The home page banner of the example mini-program',
  });
  return { flashItemId: `${session}-tea`, done };
}

module.exports = { seed };

if (require.main === module) {
  const a = args(process.argv.slice(2));
  if (!a.endpoint || !a.key) {
    console.error('usage: node scripts/seed.js --endpoint http://127.0.0.1:8000 --key hlk_…');
    process.exit(2);
  }
  seed(a).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e.message);
      process.exit(1);
    }
  );
}

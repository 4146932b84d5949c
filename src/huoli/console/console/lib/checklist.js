// The setup checklist (首次接入清单) the overview shows: what a new app has set up and seen so far, each item
// linking to the page that does it. Polls while the page is open and something is still missing, so an item
// turns green when its first event or signed call arrives. Backend: GET /admin/setup/checklist (apps).

export const POLL_MS = 3000;

const L = {
  title: { zh: "首次接入清单", en: "Setup checklist" },
  progress: { zh: "已完成 {done} / {total}", en: "{done} of {total} done" },
  allDone: { zh: "首次接入清单：全部完成 ✓", en: "Setup checklist: all done ✓" },
  waiting: { zh: "正在等待…（每 3 秒自动刷新）", en: "Waiting… (refreshes every 3 s)" },
  go: { zh: "去设置", en: "Set up" },
  view: { zh: "查看", en: "View" },
};

// id → label, hint, and the page that does it
const ITEMS = [
  {
    id: "app", href: "#/app-settings",
    label: { zh: "应用已创建", en: "App created" },
    hint: { zh: "应用 ID、名称和时区。", en: "The app's id, name and timezone." },
  },
  {
    id: "wx_appid", href: "#/app-settings?focus=wechat",
    label: { zh: "填写微信小程序 AppID", en: "WeChat AppID set" },
    hint: { zh: "mp.weixin.qq.com → 开发管理 → 开发设置。", en: "mp.weixin.qq.com → Development → Development settings." },
  },
  {
    id: "wx_secret", href: "#/app-settings?focus=wechat",
    label: { zh: "填写 AppSecret（用户登录需要）", en: "AppSecret set (user login needs it)" },
    hint: { zh: "加密保存，只能写入，不会再显示。", en: "Stored encrypted, write-only, never shown again." },
  },
  {
    id: "sdk_events", href: "#/events", wait: true,
    label: { zh: "小程序 SDK 上报事件", en: "SDK sending events" },
    hint: {
      zh: "在小程序中接入 sdk/miniprogram，X-Huoli-App-Id 用应用 ID 或 AppID；收到第一个事件后变绿。",
      en: "Add sdk/miniprogram to the mini-program with the app id or AppID; turns green when the first event arrives.",
    },
  },
  {
    id: "signed_calls", href: "#/app-settings", wait: true,
    label: { zh: "商户后端签名调用", en: "Server calls signed" },
    hint: {
      zh: "后端用服务端签名密钥（HMAC）调用 /v1/server/*；收到第一个签名请求后变绿。",
      en: "Your backend calls /v1/server/* signed with the server secret (HMAC); turns green on the first signed call.",
    },
  },
  {
    id: "coupon", href: "#/promotions",
    label: { zh: "创建第一张优惠券", en: "First coupon created" },
    hint: { zh: "营销活动 → 优惠券模板。", en: "Promotions → coupon templates." },
  },
  {
    id: "first_checkin", href: "#/loyalty-rules", wait: true,
    label: { zh: "签到：配置规则并收到第一次签到", en: "Check-in: rules set, first check-in received" },
    hint: {
      zh: "积分规则里设置签到奖励；会员第一次签到后变绿。",
      en: "Set the check-in rewards in the loyalty rules; turns green on a member's first check-in.",
    },
  },
];

async function fetchState(ctx) {
  const [setup, coupons] = await Promise.all([
    ctx.api("/admin/setup/checklist"),
    // Another domain's list, asked for one row; a server without promotions leaves the item out.
    ctx.api("/admin/promotions/coupon-templates", { query: { limit: 1 } }).catch((err) => {
      if (err instanceof ctx.ApiError && (err.status === 404 || err.status === 403)) return null;
      throw err;
    }),
  ]);
  const done = Object.fromEntries(setup.items.map((i) => [i.id, i.done]));
  if (coupons) done.coupon = coupons.items.length > 0;
  return done;
}

// Appends the checklist to `root` (resolves once drawn) and keeps it fresh in the background until everything
// is done or the page is left.
export async function setupChecklist(root, ctx, { interval = POLL_MS } = {}) {
  const { h, clear } = ctx.ui;
  const t = ctx.t;
  const box = h("details", { class: "card checklist-card", id: "setup-checklist" });
  root.append(box);

  let drawn = false;
  function draw(done) {
    const items = ITEMS.filter((i) => i.id in done);
    const count = items.filter((i) => done[i.id]).length;
    const all = count === items.length;
    if (!drawn || all) box.open = !all; // open while work remains, unless the operator folded it
    drawn = true;
    box.dataset.done = `${count}/${items.length}`;
    const list = h("ul", { class: "checklist" }, items.map((i) => h("li", {
      class: done[i.id] ? "done" : null, dataset: { item: i.id, done: String(!!done[i.id]) },
    },
    h("span", { class: "mark", "aria-hidden": "true" }, done[i.id] ? "✓" : "○"),
    h("span", { class: "what" }, t(i.label),
      h("span", { class: "visually-hidden" }, done[i.id] ? " ✓" : " —")),
    h("a", { href: i.href }, t(done[i.id] ? L.view : L.go)),
    done[i.id] ? null : h("span", { class: "hint" }, t(i.hint), i.wait ? ` ${t(L.waiting)}` : ""))));
    clear(box).append(
      h("summary", { class: "checklist-head" },
        h("h2", {}, all ? t(L.allDone) : t(L.title)),
        h("span", { class: "progress" }, t(L.progress, { done: count, total: items.length }))),
      list);
    return all;
  }

  let all = draw(await fetchState(ctx));
  const poll = async () => {
    while (!all) {
      await new Promise((resolve) => setTimeout(resolve, interval));
      if (!ctx.isCurrent() || !box.isConnected) return;
      try {
        const done = await fetchState(ctx);
        if (!ctx.isCurrent()) return;
        all = draw(done);
      } catch (err) {
        if (err instanceof ctx.ApiError && err.status === 401) return; // the shell signs out
        // a missed poll (server restarting, network): the next one tries again
      }
    }
  };
  poll();
}

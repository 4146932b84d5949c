// Promotions: participation per mechanic, what is running (flash sales, group buys, bargains, referral
// programs, gift packs, distribution) with live figures, coupon templates (create, pause), the compliance
// check, jobs.

const L = {
  overview: { zh: "活动概况", en: "Participation" },
  mechanic: { zh: "玩法", en: "Mechanic" },
  states: { zh: "各状态数量", en: "By state" },
  runJobs: { zh: "立即运行定时任务", en: "Run the jobs now" },
  jobsDone: { zh: "任务已运行", en: "Jobs ran" },
  templates: { zh: "优惠券模板", en: "Coupon templates" },
  create: { zh: "新建优惠券", en: "New coupon" },
  id: { zh: "编号", en: "ID" },
  name: { zh: "名称", en: "Name" },
  kind: { zh: "类型", en: "Kind" },
  value: { zh: "优惠", en: "Value" },
  amount: { zh: "减免金额（分）", en: "Amount off (fen)" },
  threshold: { zh: "门槛（分）", en: "Threshold (fen)" },
  percent: { zh: "折扣（减百分之几）", en: "Percent off" },
  cap: { zh: "最高优惠（分）", en: "Cap (fen)" },
  days: { zh: "领取后有效天数", en: "Valid days after claim" },
  total: { zh: "发放总量", en: "Total limit" },
  perUser: { zh: "每人限领", en: "Per user" },
  trigger: { zh: "发放方式", en: "Issued by" },
  stackable: { zh: "可叠加", en: "Stackable" },
  issued: { zh: "已发放", en: "Issued" },
  status: { zh: "状态", en: "Status" },
  rules: { zh: "活动规则（展示给用户）", en: "Rules shown to users" },
  active: { zh: "进行中", en: "Active" },
  paused: { zh: "已暂停", en: "Paused" },
  pause: { zh: "暂停", en: "Pause" },
  resume: { zh: "恢复", en: "Resume" },
  submit: { zh: "创建", en: "Create" },
  created: { zh: "优惠券已创建", en: "Coupon created" },
  check: { zh: "规则合规检查", en: "Compliance check" },
  checkHint: {
    zh: "粘贴活动配置（JSON），检查是否违反平台规则（如分享得奖励、隐藏规则），并预览展示给用户的规则文案。",
    en: "Paste a configuration (JSON) to check it against the platform rules (no rewards for sharing, rules shown) and preview the rule text.",
  },
  checkRun: { zh: "检查", en: "Check" },
  ok: { zh: "通过。用户将看到：", en: "Passes. Users will see:" },
  bad: { zh: "不通过：", en: "Refused:" },
  badJson: { zh: "不是有效的 JSON", en: "Not valid JSON" },
  unlimited: { zh: "不限", en: "unlimited" },
  yes: { zh: "是", en: "yes" },
  no: { zh: "否", en: "no" },
  kinds: {
    fixed: { zh: "无门槛券", en: "Fixed" },
    threshold: { zh: "满减券", en: "Threshold" },
    percent: { zh: "折扣券", en: "Percent" },
  },
  triggers: {
    user_claim: { zh: "用户领取", en: "User claims" },
    targeted: { zh: "定向发放", en: "Targeted" },
    new_user: { zh: "新人礼包", en: "New-user pack" },
    reward: { zh: "邀请奖励", en: "Referral reward" },
  },
  running: { zh: "活动列表", en: "Campaigns" },
  runningHint: {
    zh: "各活动的实时数据；时间为应用时区（{tz}），金额单位为元。",
    en: "Live figures of each campaign; times in the app's timezone ({tz}), amounts in yuan.",
  },
  refresh: { zh: "刷新", en: "Refresh" },
  flash: { zh: "秒杀", en: "Flash sales" },
  groupBuys: { zh: "拼团", en: "Group buys" },
  bargainsTitle: { zh: "砍价", en: "Bargains" },
  referralsTitle: { zh: "邀请有礼", en: "Referral programs" },
  giftPacks: { zh: "新人礼包", en: "New-user gift packs" },
  distributionTitle: { zh: "分销", en: "Distribution" },
  noFlash: { zh: "还没有秒杀场次", en: "No flash-sale sessions yet" },
  noGroups: { zh: "还没有拼团活动", en: "No group-buy campaigns yet" },
  noBargains: { zh: "还没有砍价活动", en: "No bargain campaigns yet" },
  noReferrals: { zh: "还没有邀请活动", en: "No referral programs yet" },
  noPacks: { zh: "还没有新人礼包", en: "No gift packs yet" },
  noDistribution: { zh: "尚未设置分销规则", en: "Distribution is not set up" },
  noItems: { zh: "（本场没有商品）", en: "(no items in this session)" },
  session: { zh: "场次", en: "Session" },
  time: { zh: "时间", en: "Time" },
  item: { zh: "商品", en: "Item" },
  flashPrice: { zh: "秒杀价 / 原价", en: "Price / was" },
  sold: { zh: "已售", en: "Sold" },
  awaiting: { zh: "待支付", en: "Awaiting payment" },
  left: { zh: "剩余", en: "Left" },
  totalStock: { zh: "总库存", en: "Stock" },
  prices: { zh: "拼团价 / 团长价 / 原价", en: "Group / leader / list price" },
  groupSize: { zh: "成团人数", en: "Group size" },
  people: { zh: "{n} 人", en: "{n} people" },
  onePerson: { zh: "1 人", en: "1 person" },
  timeLimit: { zh: "时限", en: "Time limit" },
  forming: { zh: "组团中", en: "Forming" },
  formed: { zh: "已成团", en: "Formed" },
  failed: { zh: "未成团", en: "Failed" },
  members: { zh: "参团人数", en: "Members" },
  priceFloor: { zh: "原价 → 底价", en: "Price → floor" },
  helpersNeeded: { zh: "需助力", en: "Helpers needed" },
  inProgress: { zh: "砍价中", en: "In progress" },
  completed: { zh: "已砍成", en: "Completed" },
  expired: { zh: "已过期", en: "Expired" },
  helps: { zh: "助力次数", en: "Helps" },
  qualifying: { zh: "达成条件", en: "Qualifies on" },
  rewards: { zh: "奖励券（邀请人 / 被邀请人）", en: "Rewards (referrer / invitee)" },
  rewardCap: { zh: "每人奖励上限", en: "Rewards per referrer" },
  codes: { zh: "邀请码", en: "Invite codes" },
  bound: { zh: "已绑定", en: "Bound" },
  rewarded: { zh: "已奖励", en: "Rewarded" },
  blocked: { zh: "已拦截", en: "Blocked" },
  packTemplates: { zh: "包含优惠券", en: "Coupon templates" },
  newUserDays: { zh: "注册后天数内", en: "Within days of sign-up" },
  levels: { zh: "层级", en: "Levels" },
  level1: { zh: "一级佣金", en: "Level-1 commission" },
  level2: { zh: "二级佣金", en: "Level-2 commission" },
  binding: { zh: "绑定关系", en: "Binding" },
  freeze: { zh: "冻结期", en: "Freeze period" },
  minWithdraw: { zh: "最低提现", en: "Minimum withdrawal" },
  distributors: { zh: "分销员", en: "Distributors" },
  commissionsFrozen: { zh: "佣金冻结中", en: "Commissions frozen" },
  commissionsCredited: { zh: "佣金已入账", en: "Commissions credited" },
  commissionsReversed: { zh: "佣金已冲回", en: "Commissions reversed" },
  entries: { zh: "{n} 笔", en: "{n} entries" },
  updated: { zh: "更新于", en: "Updated" },
  nDays: { zh: "{n} 天", en: "{n} days" },
  oneDay: { zh: "1 天", en: "1 day" },
  hours: { zh: "{n} 小时", en: "{n} h" },
  minutes: { zh: "{n} 分钟", en: "{n} min" },
  stopped: { zh: "已停用", en: "Stopped" },
  sessionStates: {
    upcoming: { zh: "未开始", en: "Upcoming" },
    running: { zh: "进行中", en: "Running" },
    ended: { zh: "已结束", en: "Ended" },
  },
  actions: {
    first_order: { zh: "首单支付", en: "First paid order" },
    registration: { zh: "注册", en: "Registration" },
  },
  bindingModes: {
    permanent: { zh: "永久", en: "Permanent" },
    window: { zh: "{n} 天内有效", en: "{n} days" },
    latest: { zh: "以最近一次为准（{n} 天）", en: "Latest wins ({n} days)" },
  },
  stateNames: {
    available: { zh: "可用", en: "available" },
    locked: { zh: "已锁定", en: "locked" },
    redeemed: { zh: "已核销", en: "redeemed" },
    expired: { zh: "已过期", en: "expired" },
    reserved: { zh: "待支付", en: "reserved" },
    paid: { zh: "已支付", en: "paid" },
    cancelled: { zh: "已取消", en: "cancelled" },
    open: { zh: "组团中", en: "open" },
    succeeded: { zh: "成功", en: "succeeded" },
    failed: { zh: "失败", en: "failed" },
    joined: { zh: "已参团", en: "joined" },
    rejected: { zh: "已拒绝", en: "rejected" },
    refunding: { zh: "退款中", en: "refunding" },
    refunded: { zh: "已退款", en: "refunded" },
    pending: { zh: "待处理", en: "pending" },
    processing: { zh: "处理中", en: "processing" },
    active: { zh: "进行中", en: "active" },
    completed: { zh: "已完成", en: "completed" },
    bound: { zh: "已绑定", en: "bound" },
    rewarded: { zh: "已奖励", en: "rewarded" },
    blocked: { zh: "已拦截", en: "blocked" },
    frozen: { zh: "冻结中", en: "frozen" },
    credited: { zh: "已入账", en: "credited" },
    reversed: { zh: "已冲回", en: "reversed" },
  },
  mechanics: {
    coupons: { zh: "优惠券", en: "Coupons" },
    flash_reservations: { zh: "秒杀预订", en: "Flash-sale reservations" },
    groups: { zh: "拼团", en: "Group buys" },
    group_members: { zh: "拼团成员", en: "Group members" },
    refunds: { zh: "退款", en: "Refunds" },
    bargains: { zh: "砍价", en: "Bargains" },
    referrals: { zh: "邀请", en: "Referrals" },
    commissions: { zh: "分销佣金", en: "Commissions" },
  },
};

const CHECK_KINDS = ["coupon", "group", "bargain", "referral", "distribution"];
const CHECK_EXAMPLE = {
  id: "share10", name: "分享得10元券", kind: "fixed", amount_fen: 1000, valid_days: 7, claim_trigger: "share",
};

// Integer fen as yuan with thousands separators: 123456 → "1,234.56", 10000 → "100".
function yuan(fen, lang) {
  return new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US",
    { minimumFractionDigits: fen % 100 === 0 ? 0 : 2, maximumFractionDigits: 2 }).format(fen / 100);
}

function stateNameIn(lang) {
  return (s) => (L.stateNames[s] ? L.stateNames[s][lang] : s);
}

export default {
  id: "promotions",
  title: { zh: "营销活动", en: "Promotions" },
  group: "engage",
  order: 40,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, formErrors, toast } = ctx.ui;
    const t = ctx.t;
    const stateName = stateNameIn(ctx.lang);

    function value(tpl) {
      if (tpl.kind === "fixed") return ctx.lang === "zh" ? `减 ¥${yuan(tpl.amount_fen, ctx.lang)}` : `¥${yuan(tpl.amount_fen, ctx.lang)} off`;
      if (tpl.kind === "threshold") {
        return ctx.lang === "zh"
          ? `满 ¥${yuan(tpl.threshold_fen, ctx.lang)} 减 ¥${yuan(tpl.amount_fen, ctx.lang)}`
          : `¥${yuan(tpl.amount_fen, ctx.lang)} off ¥${yuan(tpl.threshold_fen, ctx.lang)}`;
      }
      const cap = tpl.max_discount_fen ? ` (≤ ¥${yuan(tpl.max_discount_fen, ctx.lang)})` : "";
      return ctx.lang === "zh" ? `${(100 - tpl.percent_off) / 10} 折${cap}` : `${tpl.percent_off}% off${cap}`;
    }

    // -- participation ------------------------------------------------------------------------------
    const overviewSlot = h("div", { id: "promo-overview" });
    const runJobs = h("button", { type: "button", id: "promo-run-jobs" }, t(L.runJobs));
    runJobs.addEventListener("click", async () => {
      runJobs.disabled = true;
      try {
        await ctx.api("/admin/promotions/jobs/run", { method: "POST" });
        toast(L.jobsDone);
        await Promise.all([loadOverview(), loadRunning()]);
      } catch (err) {
        toast(err.message, { kind: "error" });
      } finally {
        runJobs.disabled = false;
      }
    });

    async function loadOverview() {
      const data = await ctx.api("/admin/promotions/overview");
      const rows = Object.entries(data).map(([mechanic, states]) => ({
        mechanic,
        states: Object.entries(states).map(([s, n]) => `${stateName(s)} ${ctx.fmt.number(n)}`).join(" · "),
      }));
      if (ctx.isCurrent()) {
        clear(overviewSlot).append(table([
          { key: "mechanic", title: t(L.mechanic), format: (v) => t(L.mechanics[v] || { zh: v, en: v }) },
          { key: "states", title: t(L.states), format: (v) => v || "—" },
        ], rows));
      }
    }

    // -- what is running, with live figures ------------------------------------------------------------
    const money = (fen) => (fen == null ? "—" : `¥${yuan(fen, ctx.lang)}`);
    const n = (v) => ctx.fmt.number(v ?? 0);
    const when = (iso) => ctx.fmt.datetime(iso, { seconds: false });
    const mono = (v) => h("span", { class: "mono" }, v);
    const named = (v, r) => h("span", {}, h("strong", {}, r.name), " ", h("span", { class: "mono muted" }, r.id));
    const onOff = (v) => t(v ? L.active : L.stopped);
    const days = (v) => (v === 1 ? t(L.oneDay) : t(L.nDays, { n: v }));
    const people = (v) => (v === 1 ? t(L.onePerson) : t(L.people, { n: v }));
    function duration(s) {
      if (s % 86400 === 0) return days(s / 86400);
      if (s % 3600 === 0) return t(L.hours, { n: s / 3600 });
      return t(L.minutes, { n: Math.round(s / 60) });
    }
    function bar(done, total) {
      const share = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
      return h("span", { class: "promo-bar", title: `${share}%`,
        style: "display:inline-block;width:64px;height:6px;border-radius:3px;background:var(--line);vertical-align:middle;margin-left:.4rem;overflow:hidden" },
      h("span", { style: `display:block;height:100%;width:${share}%;background:var(--accent, #e8590c)` }));
    }

    const flashSlot = h("div", { id: "promo-flash" });
    const groupSlot = h("div", { id: "promo-groups" });
    const bargainSlot = h("div", { id: "promo-bargains" });
    const referralSlot = h("div", { id: "promo-referrals" });
    const packSlot = h("div", { id: "promo-gift-packs" });
    const distributionSlot = h("div", { id: "promo-distribution" });

    function drawFlash(sessions) {
      const rows = sessions.flatMap((s) => (s.items.length ? s.items : [null]).map((it, i) => ({ s, it, first: i === 0 })));
      clear(flashSlot).append(table([
        { key: "session", title: t(L.session), format: (_, r) => (r.first ? named(null, r.s) : "") },
        { key: "time", title: t(L.time), format: (_, r) => (r.first ? `${when(r.s.starts_at)} – ${when(r.s.ends_at)}` : "") },
        { key: "state", title: t(L.status), format: (_, r) => (r.first ? h("span", { class: `promo-state promo-${r.s.state}` }, t(L.sessionStates[r.s.state])) : "") },
        { key: "item", title: t(L.item), format: (_, r) => (r.it ? mono(r.it.item_id) : h("span", { class: "muted" }, t(L.noItems))) },
        { key: "price", title: t(L.flashPrice), align: "right",
          format: (_, r) => (r.it ? h("span", {}, money(r.it.price_fen), " ", h("s", { class: "muted" }, money(r.it.original_price_fen))) : "") },
        { key: "sold", title: t(L.sold), align: "right",
          format: (_, r) => (r.it ? h("span", {}, n(r.it.sold), bar(r.it.sold, r.it.total_stock)) : "") },
        { key: "reserved", title: t(L.awaiting), align: "right", format: (_, r) => (r.it ? n(r.it.reserved) : "") },
        { key: "left", title: t(L.left), align: "right", format: (_, r) => (r.it ? n(r.it.stock) : "") },
        { key: "total", title: t(L.totalStock), align: "right", format: (_, r) => (r.it ? n(r.it.total_stock) : "") },
      ], rows, { empty: L.noFlash }));
    }

    function drawGroups(campaigns) {
      clear(groupSlot).append(table([
        { key: "name", title: t(L.name), format: named },
        { key: "item_id", title: t(L.item), format: mono },
        { key: "prices", title: t(L.prices), align: "right",
          format: (_, r) => `${money(r.group_price_fen)} / ${money(r.leader_price_fen)} / ${money(r.original_price_fen)}` },
        { key: "size", title: t(L.groupSize), align: "right", format: people },
        { key: "duration_s", title: t(L.timeLimit), align: "right", format: duration },
        { key: "open", title: t(L.forming), align: "right", format: (_, r) => n(r.groups.open) },
        { key: "succeeded", title: t(L.formed), align: "right", format: (_, r) => n(r.groups.succeeded) },
        { key: "failed", title: t(L.failed), align: "right", format: (_, r) => n(r.groups.failed) },
        { key: "members", title: t(L.members), align: "right", format: n },
        { key: "active", title: t(L.status), format: onOff },
      ], campaigns, { empty: L.noGroups }));
    }

    function drawBargains(campaigns) {
      clear(bargainSlot).append(table([
        { key: "name", title: t(L.name), format: named },
        { key: "item_id", title: t(L.item), format: mono },
        { key: "price", title: t(L.priceFloor), align: "right", format: (_, r) => `${money(r.price_fen)} → ${money(r.floor_fen)}` },
        { key: "helpers_needed", title: t(L.helpersNeeded), align: "right", format: people },
        { key: "duration_s", title: t(L.timeLimit), align: "right", format: duration },
        { key: "in_progress", title: t(L.inProgress), align: "right", format: (_, r) => n(r.bargains.active) },
        { key: "completed", title: t(L.completed), align: "right", format: (_, r) => n(r.bargains.completed) },
        { key: "expired", title: t(L.expired), align: "right", format: (_, r) => n(r.bargains.expired) },
        { key: "helps", title: t(L.helps), align: "right", format: n },
        { key: "active", title: t(L.status), format: onOff },
      ], campaigns, { empty: L.noBargains }));
    }

    function drawReferrals(programs) {
      clear(referralSlot).append(table([
        { key: "name", title: t(L.name), format: named },
        { key: "qualifying_action", title: t(L.qualifying), format: (v) => t(L.actions[v] || { zh: v, en: v }) },
        { key: "rewards", title: t(L.rewards), format: (_, r) => mono(`${r.referrer_template_id} / ${r.invitee_template_id}`) },
        { key: "max_rewards_per_referrer", title: t(L.rewardCap), align: "right", format: n },
        { key: "invite_codes", title: t(L.codes), align: "right", format: n },
        { key: "bound", title: t(L.bound), align: "right", format: (_, r) => n(r.bindings.bound) },
        { key: "rewarded", title: t(L.rewarded), align: "right", format: (_, r) => n(r.bindings.rewarded) },
        { key: "blocked", title: t(L.blocked), align: "right", format: (_, r) => n(r.bindings.blocked) },
        { key: "active", title: t(L.status), format: onOff },
      ], programs, { empty: L.noReferrals }));
    }

    function drawPacks(packs) {
      clear(packSlot).append(table([
        { key: "name", title: t(L.name), format: named },
        { key: "template_ids", title: t(L.packTemplates), format: (v) => mono(v.join(", ")) },
        { key: "new_user_days", title: t(L.newUserDays), align: "right", format: days },
        { key: "active", title: t(L.status), format: onOff },
      ], packs, { empty: L.noPacks }));
    }

    function drawDistribution(d) {
      clear(distributionSlot);
      if (!d.config) {
        distributionSlot.append(h("p", { class: "muted", id: "promo-distribution-empty" }, t(L.noDistribution)));
        return;
      }
      const c = d.config;
      const pctOf = (bp) => `${ctx.fmt.number(bp / 100)}%`;
      const paid = (status) => {
        const x = d.commissions[status] || { count: 0, amount_fen: 0 };
        const count = t(L.entries, { n: n(x.count) });
        return ctx.lang === "zh" ? `${money(x.amount_fen)}（${count}）` : `${money(x.amount_fen)} (${count})`;
      };
      const rows = [
        [L.levels, n(c.levels)], [L.level1, pctOf(c.level1_bp)],
        ...(c.levels > 1 ? [[L.level2, pctOf(c.level2_bp)]] : []),
        [L.binding, t(L.bindingModes[c.binding_mode] || { zh: c.binding_mode, en: c.binding_mode }, { n: c.binding_days })],
        [L.freeze, days(c.freeze_days)], [L.minWithdraw, money(c.min_withdraw_fen)],
        [L.distributors, n(d.distributors)],
        [L.commissionsFrozen, paid("frozen")], [L.commissionsCredited, paid("credited")], [L.commissionsReversed, paid("reversed")],
        [L.rules, c.rules_text], [L.updated, when(c.updated_at)],
      ];
      // label / value pairs: one set of settings, not rows of a list
      distributionSlot.append(h("dl", { class: "promo-settings",
        style: "display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.5rem;margin:0" },
      ...rows.flatMap(([k, v]) => [h("dt", { class: "muted" }, t(k)), h("dd", { style: "margin:0", dataset: { key: k.en } }, v)])));
    }

    async function loadRunning() {
      const [flash, groups, bargains, referrals, packs, distribution] = await Promise.all([
        ctx.apiAll("/admin/promotions/flash/sessions"),
        ctx.apiAll("/admin/promotions/group-campaigns"),
        ctx.apiAll("/admin/promotions/bargain-campaigns"),
        ctx.apiAll("/admin/promotions/referral-programs"),
        ctx.apiAll("/admin/promotions/gift-packs"),
        ctx.api("/admin/promotions/distribution"),
      ]);
      if (!ctx.isCurrent()) return;
      drawFlash(flash);
      drawGroups(groups);
      drawBargains(bargains);
      drawReferrals(referrals);
      drawPacks(packs);
      drawDistribution(distribution);
    }
    const refresh = h("button", { type: "button", id: "promo-refresh" }, t(L.refresh));
    refresh.addEventListener("click", async () => {
      refresh.disabled = true;
      try {
        await Promise.all([loadOverview(), loadRunning()]);
      } catch (err) {
        toast(err.message, { kind: "error" });
      } finally {
        refresh.disabled = false;
      }
    });

    // -- coupon templates ---------------------------------------------------------------------------
    const templatesSlot = h("div", { id: "promo-templates" });

    function toggleButton(tpl) {
      const btn = h("button", { type: "button", class: "toggle", dataset: { template: tpl.id } },
        t(tpl.active ? L.pause : L.resume));
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          await ctx.api(`/admin/promotions/coupon-templates/${encodeURIComponent(tpl.id)}`,
            { method: "PATCH", query: { active: String(!tpl.active) } });
          await loadTemplates();
        } catch (err) {
          btn.disabled = false;
          toast(err.message, { kind: "error" });
        }
      });
      return btn;
    }

    async function loadTemplates() {
      const rows = await ctx.apiAll("/admin/promotions/coupon-templates");
      if (!ctx.isCurrent()) return;
      clear(templatesSlot).append(table([
        { key: "id", title: t(L.id), format: (v) => h("span", { class: "mono" }, v) },
        { key: "name", title: t(L.name) },
        { key: "kind", title: t(L.kind), format: (v) => t(L.kinds[v] || { zh: v, en: v }) },
        { key: "value", title: t(L.value), format: (_, r) => value(r) },
        {
          key: "issued_count", title: t(L.issued), align: "right",
          format: (v, r) => `${ctx.fmt.number(v)} / ${r.total_limit == null ? t(L.unlimited) : ctx.fmt.number(r.total_limit)}`,
        },
        { key: "claim_trigger", title: t(L.trigger), format: (v) => t(L.triggers[v] || { zh: v, en: v }) },
        { key: "active", title: t(L.status), format: (v) => t(v ? L.active : L.paused) },
        { key: "rules_text", title: t(L.rules) },
        { key: "actions", title: "", format: (_, r) => toggleButton(r) },
      ], rows));
    }

    // -- create a coupon ----------------------------------------------------------------------------
    function field(id, name, label, input) {
      return [h("label", { for: id }, t(label)), h("div", { class: "field" }, input)];
    }
    const num = (id, name, val) => h("input", { id, name, type: "number", min: "0", step: "1", value: val ?? "" });
    const inputs = {
      id: h("input", { id: "cpn-id", name: "id", type: "text", autocomplete: "off", placeholder: "m100-20" }),
      name: h("input", { id: "cpn-name", name: "name", type: "text", autocomplete: "off", placeholder: "满100减20" }),
      kind: h("select", { id: "cpn-kind", name: "kind" },
        Object.keys(L.kinds).map((k) => h("option", { value: k }, t(L.kinds[k])))),
      amount_fen: num("cpn-amount", "amount_fen", "1000"),
      threshold_fen: num("cpn-threshold", "threshold_fen", ""),
      percent_off: num("cpn-percent", "percent_off", ""),
      max_discount_fen: num("cpn-cap", "max_discount_fen", ""),
      valid_days: num("cpn-days", "valid_days", "7"),
      total_limit: num("cpn-total", "total_limit", ""),
      per_user_limit: num("cpn-per-user", "per_user_limit", "1"),
      claim_trigger: h("select", { id: "cpn-trigger", name: "claim_trigger" },
        Object.keys(L.triggers).map((k) => h("option", { value: k }, t(L.triggers[k])))),
      stackable: h("input", { id: "cpn-stackable", name: "stackable", type: "checkbox" }),
    };
    const submit = h("button", { type: "submit", class: "primary" }, t(L.submit));
    const form = h("form", { id: "coupon-create", novalidate: true },
      h("div", { class: "form-grid" },
        ...field("cpn-id", "id", L.id, inputs.id),
        ...field("cpn-name", "name", L.name, inputs.name),
        ...field("cpn-kind", "kind", L.kind, inputs.kind),
        ...field("cpn-amount", "amount_fen", L.amount, inputs.amount_fen),
        ...field("cpn-threshold", "threshold_fen", L.threshold, inputs.threshold_fen),
        ...field("cpn-percent", "percent_off", L.percent, inputs.percent_off),
        ...field("cpn-cap", "max_discount_fen", L.cap, inputs.max_discount_fen),
        ...field("cpn-days", "valid_days", L.days, inputs.valid_days),
        ...field("cpn-total", "total_limit", L.total, inputs.total_limit),
        ...field("cpn-per-user", "per_user_limit", L.perUser, inputs.per_user_limit),
        ...field("cpn-trigger", "claim_trigger", L.trigger, inputs.claim_trigger),
        ...field("cpn-stackable", "stackable", L.stackable, inputs.stackable),
        h("span"), h("div", {}, submit)));

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      formErrors(form, null);
      const body = { id: inputs.id.value.trim(), name: inputs.name.value.trim(), kind: inputs.kind.value,
        claim_trigger: inputs.claim_trigger.value, stackable: inputs.stackable.checked };
      for (const k of ["amount_fen", "threshold_fen", "percent_off", "max_discount_fen", "valid_days",
        "total_limit", "per_user_limit"]) {
        if (inputs[k].value !== "") body[k] = Number(inputs[k].value);
      }
      submit.disabled = true;
      try {
        await ctx.api("/admin/promotions/coupon-templates", { method: "POST", body });
        toast(L.created);
        inputs.id.value = "";
        inputs.name.value = "";
        await loadTemplates();
      } catch (err) {
        if (err.status === 422 || err.status === 409) formErrors(form, err);
        else toast(err.message, { kind: "error" });
      } finally {
        submit.disabled = false;
      }
    });

    // -- compliance check ---------------------------------------------------------------------------
    const checkKind = h("select", { id: "check-kind", name: "kind", "aria-label": t(L.kind) },
      CHECK_KINDS.map((k) => h("option", { value: k }, k)));
    const checkText = h("textarea", { id: "check-config", name: "config", rows: "8", class: "mono",
      style: "width: 100%; max-width: 48rem", "aria-label": t(L.check) }, JSON.stringify(CHECK_EXAMPLE, null, 2));
    const checkButton = h("button", { type: "button", id: "check-run" }, t(L.checkRun));
    const checkResult = h("div", { id: "check-result", role: "status" });
    checkButton.addEventListener("click", async () => {
      let config;
      try {
        config = JSON.parse(checkText.value);
      } catch {
        clear(checkResult).append(h("p", { class: "page-error" }, t(L.badJson)));
        return;
      }
      try {
        const res = await ctx.api("/admin/promotions/compliance/check",
          { method: "POST", body: { kind: checkKind.value, config } });
        if (!ctx.isCurrent()) return;
        clear(checkResult).append(res.ok
          ? h("div", { class: "check-ok" }, h("p", {}, t(L.ok)), h("blockquote", { id: "check-rules" }, res.rules_text))
          : h("div", { class: "check-bad" }, h("p", {}, t(L.bad)),
            h("ul", { id: "check-violations" },
              res.violations.map((v) => h("li", {}, h("span", { class: "mono" }, v.field || "—"), ": ", v.message)))));
      } catch (err) {
        toast(err.message, { kind: "error" });
      }
    });

    const sub = (title, slot) => [h("h3", {}, t(title)), slot];
    root.append(
      h("section", { class: "card" }, h("h2", {}, t(L.overview)), h("div", { class: "toolbar" }, runJobs), overviewSlot),
      h("section", { class: "card", id: "promo-running" }, h("h2", {}, t(L.running)),
        h("div", { class: "toolbar" }, refresh,
          h("span", { class: "muted" }, t(L.runningHint, { tz: ctx.app.timezone }))),
        ...sub(L.flash, flashSlot), ...sub(L.groupBuys, groupSlot), ...sub(L.bargainsTitle, bargainSlot),
        ...sub(L.referralsTitle, referralSlot), ...sub(L.giftPacks, packSlot), ...sub(L.distributionTitle, distributionSlot)),
      h("section", { class: "card" }, h("h2", {}, t(L.templates)), templatesSlot),
      h("section", { class: "card" }, h("h2", {}, t(L.create)), form),
      h("section", { class: "card" }, h("h2", {}, t(L.check)), h("p", { class: "muted" }, t(L.checkHint)),
        h("div", { class: "toolbar" }, checkKind, checkButton), checkText, checkResult),
    );
    await Promise.all([loadOverview(), loadRunning(), loadTemplates()]);
  },
};

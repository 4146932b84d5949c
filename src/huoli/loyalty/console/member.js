// 会员积分查询: one member's balance, tier, points transfers and lots; manual adjustment (operator role).

const L = {
  title: { zh: "会员积分", en: "Member points" },
  user: { zh: "用户 ID", en: "User ID" },
  userPh: { zh: "例如：u_1a2b3c…", en: "e.g. u_1a2b3c…" },
  lookup: { zh: "查询", en: "Look up" },
  available: { zh: "可用积分", en: "Available" },
  pending: { zh: "待生效", en: "Pending" },
  debt: { zh: "欠分", en: "Debt" },
  expiring: { zh: "即将过期", en: "Expiring soon" },
  tier: { zh: "会员等级", en: "Tier" },
  growth: { zh: "成长值", en: "Growth" },
  transfers: { zh: "积分流水", en: "Transfers" },
  lots: { zh: "积分批次", en: "Lots" },
  date: { zh: "日期", en: "Date" },
  kind: { zh: "类型", en: "Kind" },
  reason: { zh: "来源", en: "Reason" },
  points: { zh: "积分", en: "Points" },
  key: { zh: "业务键", en: "Business key" },
  ref: { zh: "关联", en: "Ref" },
  remaining: { zh: "剩余", en: "Remaining" },
  availableAt: { zh: "生效时间", en: "Available at" },
  expiresAt: { zh: "过期时间", en: "Expires at" },
  never: { zh: "永不过期", en: "Never" },
  adjust: { zh: "手动调整", en: "Adjust" },
  adjustPoints: { zh: "积分（负数为扣减）", en: "Points (negative deducts)" },
  adjustKey: { zh: "幂等键", en: "Idempotency key" },
  note: { zh: "备注", en: "Note" },
  submit: { zh: "提交", en: "Submit" },
  done: { zh: "已调整", en: "Adjusted" },
  none: { zh: "暂无记录", en: "No records" },
  birthday: { zh: "生日", en: "Birthday" },
  unset: { zh: "未填写", en: "Not set" },
  birthdayFix: { zh: "更正生日（MM-DD，留空为清除）", en: "Correct birthday (MM-DD, empty clears)" },
  birthdaySaved: { zh: "生日已更新", en: "Birthday updated" },
  top: { zh: "积分排行（累计获得）", en: "Top members (points earned, all time)" },
  topHint: { zh: "点用户 ID 查看其积分明细。", en: "Click a user id to see their points." },
  rank: { zh: "名次", en: "Rank" },
  earned: { zh: "累计获得积分", en: "Points earned" },
  noMembers: { zh: "还没有会员获得积分。", en: "No member has earned points yet." },
  unknown: {
    zh: "没有这个用户：未登录过小程序，也没有积分记录。请检查用户 ID（可从下方排行或事件中复制）。",
    en: "No such user: never logged in to the mini-program and no points history. Check the user id (copy it from the ranking below or from events).",
  },
  kinds: {
    earn: { zh: "获得", en: "Earn" }, spend: { zh: "消耗", en: "Spend" }, expire: { zh: "过期", en: "Expire" },
    reverse: { zh: "退款冲正", en: "Refund reversal" },
  },
};

export default {
  id: "loyalty-member",
  title: L.title,
  group: "engage",
  order: 60,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, formErrors, toast } = ctx.ui;
    const t = ctx.t;
    const user = h("input", { id: "member-user", name: "user_id", type: "text", autocomplete: "off", placeholder: t(L.userPh),
      value: ctx.params.user || "" });
    const lookupForm = h("form", { id: "member-lookup", novalidate: true },
      h("div", { class: "form-grid" },
        h("label", { for: "member-user" }, t(L.user)), h("div", { class: "field" }, user),
        h("span"), h("div", {}, h("button", { type: "submit", class: "primary" }, t(L.lookup)))));
    const result = h("div", { id: "member-result" });

    const stat = (label, value, id) => h("div", { class: "kpi" }, h("div", { class: "label" }, t(label)),
      h("div", { class: "value", id }, String(value)));

    async function show(userId) {
      const base = `/admin/loyalty/members/${encodeURIComponent(userId)}`;
      const [ledger, tier, profile] = await Promise.all([
        ctx.api(`${base}/ledger`), ctx.api(`${base}/tier`), ctx.api(`${base}/profile`),
      ]);
      if (!ctx.isCurrent()) return;
      // A user id nobody has seen (a typo): say so, with no zero balance to adjust for a phantom member.
      if (!ledger.known) {
        clear(result).append(h("section", { class: "card" },
          h("p", { id: "member-unknown", class: "empty-state" }, t(L.unknown))));
        return;
      }
      const b = ledger.balance;
      const points = h("input", { id: "adjust-points", name: "points", type: "number", step: "1" });
      const key = h("input", { id: "adjust-key", name: "key", type: "text", autocomplete: "off",
        value: `console-${Date.now()}` });
      const note = h("input", { id: "adjust-note", name: "note", type: "text" });
      const adjust = h("form", { id: "member-adjust", novalidate: true },
        h("div", { class: "form-grid" },
          h("label", { for: "adjust-points" }, t(L.adjustPoints)), h("div", { class: "field" }, points),
          h("label", { for: "adjust-key" }, t(L.adjustKey)), h("div", { class: "field" }, key),
          h("label", { for: "adjust-note" }, t(L.note)), h("div", { class: "field" }, note),
          h("span"), h("div", {}, h("button", { type: "submit", class: "primary" }, t(L.submit)))));
      adjust.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        formErrors(adjust, null);
        try {
          await ctx.api(`/admin/loyalty/members/${encodeURIComponent(userId)}/adjust`, {
            method: "POST",
            body: { points: Number(points.value), key: key.value.trim(), note: note.value.trim() || null },
          });
          toast(L.done);
          await show(userId);
        } catch (err) {
          if (err.status === 422) formErrors(adjust, err);
          // 409: not enough points or a key used for another member; say it at the points field.
          else if (err.status === 409) formErrors(adjust, { details: [{ field: "points", message: err.message }] });
          else toast(err.message, { kind: "error" });
        }
      });
      // The member sets the birthday once (the yearly gift can't be re-aimed); customer service corrects it here.
      const birthday = h("input", { id: "profile-birthday", name: "birthday", type: "text", autocomplete: "off",
        placeholder: "MM-DD", value: profile.birthday || "" });
      const profileForm = h("form", { id: "member-profile", novalidate: true },
        h("div", { class: "form-grid" },
          h("label", { for: "profile-birthday" }, t(L.birthdayFix)), h("div", { class: "field" }, birthday),
          h("span"), h("div", {}, h("button", { type: "submit", class: "primary" }, t(L.submit)))));
      profileForm.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        formErrors(profileForm, null);
        const value = birthday.value.trim();
        try {
          await ctx.api(`${base}/profile`, { method: "PUT", body: value ? { birthday: value } : null });
          toast(L.birthdaySaved);
          await show(userId);
        } catch (err) {
          if (err.status === 422) formErrors(profileForm, err);
          else toast(err.message, { kind: "error" });
        }
      });
      const time = (v) => (v ? ctx.fmt.datetime(v) : t(L.never));
      clear(result).append(
        h("section", { class: "card" },
          h("div", { class: "kpis" },
            stat(L.available, ctx.fmt.number(b.available), "member-available"),
            stat(L.pending, ctx.fmt.number(b.pending), "member-pending"),
            stat(L.debt, ctx.fmt.number(b.debt), "member-debt"),
            stat(L.expiring, ctx.fmt.number(b.expiring_soon), "member-expiring"),
            stat(L.tier, tier.name, "member-tier"),
            stat(L.growth, ctx.fmt.number(tier.growth), "member-growth"),
            stat(L.birthday, profile.birthday || t(L.unset), "member-birthday"))),
        h("section", { class: "card" }, h("h2", {}, t(L.transfers)), table([
          { key: "local_date", title: t(L.date) },
          { key: "kind", title: t(L.kind), format: (v) => t(L.kinds[v] || { zh: v, en: v }) },
          { key: "reason", title: t(L.reason) },
          { key: "points", title: t(L.points), align: "right", format: (v) => (v > 0 ? `+${v}` : String(v)) },
          { key: "business_key", title: t(L.key), format: (v) => h("span", { class: "mono" }, v) },
          { key: "ref", title: t(L.ref), format: (v) => v || "" },
        ], ledger.transfers, { empty: t(L.none) })),
        h("section", { class: "card" }, h("h2", {}, t(L.lots)), table([
          { key: "id", title: "#" },
          { key: "points", title: t(L.points), align: "right" },
          { key: "remaining", title: t(L.remaining), align: "right" },
          { key: "available_at", title: t(L.availableAt), format: time },
          { key: "expires_at", title: t(L.expiresAt), format: time },
        ], ledger.lots, { empty: t(L.none) })),
        h("section", { class: "card" }, h("h2", {}, t(L.adjust)), adjust),
        h("section", { class: "card" }, h("h2", {}, t(L.birthday)), profileForm),
      );
    }

    lookupForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      formErrors(lookupForm, null);
      const id = user.value.trim();
      if (!id) return;
      ctx.setParams({ user: id });
      try {
        await show(id);
      } catch (err) {
        if (err.status === 422) formErrors(lookupForm, err);
        else toast(err.message, { kind: "error" });
      }
    });

    // Who to look at first: the members who earned the most (the built-in "points" leaderboard).
    const top = h("section", { class: "card", id: "member-top" }, h("h2", {}, t(L.top)));
    root.append(h("section", { class: "card" }, lookupForm), result, top);
    const [, board] = await Promise.all([
      ctx.params.user ? show(ctx.params.user) : null,
      ctx.api("/admin/loyalty/leaderboards/points", { query: { period: "all", top: 10 } }),
    ]);
    if (!ctx.isCurrent()) return;
    top.append(
      h("p", { class: "muted small" }, t(L.topHint)),
      table([
        { key: "rank", title: t(L.rank), align: "right" },
        { key: "user_id", title: t(L.user), format: (v) => h("a", {
          href: `#/loyalty-member?user=${encodeURIComponent(v)}`, class: "mono", dataset: { user: v } }, v) },
        { key: "score", title: t(L.earned), align: "right", format: (v) => ctx.fmt.number(v) },
      ], board.top, { empty: t(L.noMembers) }));
  },
};

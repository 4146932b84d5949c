// Promotions: participation per mechanic, coupon templates (create, pause), the compliance check, jobs.

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

function yuan(fen) {
  return fen % 100 === 0 ? String(fen / 100) : (fen / 100).toFixed(2);
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

    function value(tpl) {
      if (tpl.kind === "fixed") return ctx.lang === "zh" ? `减 ¥${yuan(tpl.amount_fen)}` : `¥${yuan(tpl.amount_fen)} off`;
      if (tpl.kind === "threshold") {
        return ctx.lang === "zh"
          ? `满 ¥${yuan(tpl.threshold_fen)} 减 ¥${yuan(tpl.amount_fen)}`
          : `¥${yuan(tpl.amount_fen)} off ¥${yuan(tpl.threshold_fen)}`;
      }
      const cap = tpl.max_discount_fen ? ` (≤ ¥${yuan(tpl.max_discount_fen)})` : "";
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
        await loadOverview();
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
        states: Object.entries(states).map(([s, n]) => `${s} ${ctx.fmt.number(n)}`).join(" · "),
      }));
      if (ctx.isCurrent()) {
        clear(overviewSlot).append(table([
          { key: "mechanic", title: t(L.mechanic), format: (v) => t(L.mechanics[v] || { zh: v, en: v }) },
          { key: "states", title: t(L.states), format: (v) => v || "—" },
        ], rows));
      }
    }

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

    root.append(
      h("section", { class: "card" }, h("h2", {}, t(L.overview)), h("div", { class: "toolbar" }, runJobs), overviewSlot),
      h("section", { class: "card" }, h("h2", {}, t(L.templates)), templatesSlot),
      h("section", { class: "card" }, h("h2", {}, t(L.create)), form),
      h("section", { class: "card" }, h("h2", {}, t(L.check)), h("p", { class: "muted" }, t(L.checkHint)),
        h("div", { class: "toolbar" }, checkKind, checkButton), checkText, checkResult),
    );
    await Promise.all([loadOverview(), loadTemplates()]);
  },
};

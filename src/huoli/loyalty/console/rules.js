// 积分规则配置: the app's loyalty rules document — the common fields as a form, the whole document as JSON.

const FIELDS = [
  { name: "points.points_per_yuan", type: "number", label: { zh: "每元积分", en: "Points per yuan" } },
  { name: "points.order_pending_days", type: "number", label: { zh: "订单积分冻结天数", en: "Order points pending days" } },
  { name: "points.expiry", type: "select", options: ["never", "days", "year_end"], label: { zh: "过期方式", en: "Expiry" } },
  { name: "points.expiry_days", type: "number", label: { zh: "有效天数", en: "Valid days" } },
  { name: "points.fen_per_point", type: "number", label: { zh: "1 积分抵扣（分）", en: "Fen per point" } },
  { name: "points.max_order_ratio", type: "number", step: "0.01", label: { zh: "每单最高抵扣比例", en: "Max share of an order" } },
  { name: "points.allow_negative", type: "checkbox", label: { zh: "退款可扣成负分", en: "Refunds may go negative" } },
  { name: "checkin.reset", type: "select", options: ["never", "weekly", "monthly"], label: { zh: "连签重置", en: "Streak reset" } },
  { name: "checkin.makeup_cost", type: "number", label: { zh: "补签消耗积分", en: "Make-up cost" } },
  { name: "checkin.makeup_window_days", type: "number", label: { zh: "可补签天数", en: "Make-up window (days)" } },
  { name: "tiers.downgrade", type: "select", options: ["never", "after_days", "periodic"], label: { zh: "降级策略", en: "Downgrade policy" } },
  { name: "tiers.member_day", type: "number", label: { zh: "会员日（每月几号）", en: "Member day (of month)" } },
];

const L = {
  title: { zh: "积分规则", en: "Loyalty rules" },
  common: { zh: "常用规则", en: "Common rules" },
  json: { zh: "完整规则（JSON，含签到奖励、等级、任务积分上限）", en: "Full rules (JSON: milestones, tiers, action caps)" },
  save: { zh: "保存", en: "Save" },
  saved: { zh: "规则已保存", en: "Rules saved" },
  badJson: { zh: "JSON 格式错误：", en: "Invalid JSON: " },
  jobs: { zh: "立即运行任务（通常由定时任务每天运行）", en: "Run a job now (normally scheduled daily)" },
  jobDone: { zh: "已完成：", en: "Done: " },
};

// The scheduled loyalty jobs (service.JOBS); each is idempotent, so running one by hand is always safe.
const JOBS = [
  { id: "expire", label: { zh: "积分过期", en: "Expire points" } },
  { id: "warn-expiring", label: { zh: "过期提醒", en: "Expiry reminders" } },
  { id: "tiers", label: { zh: "等级重算", en: "Re-evaluate tiers" } },
  { id: "tier-benefits", label: { zh: "发放等级权益（月券、生日礼）", en: "Issue tier benefits (monthly, birthday)" } },
  { id: "scan-tasks", label: { zh: "扫描任务进度", en: "Scan task progress" } },
  { id: "compact-boards", label: { zh: "整理排行榜", en: "Compact leaderboards" } },
];

const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);
const set = (obj, path, value) => {
  const keys = path.split(".");
  keys.slice(0, -1).reduce((o, k) => o[k], obj)[keys.at(-1)] = value;
};

export default {
  id: "loyalty-rules",
  title: L.title,
  group: "engage",
  order: 61,
  range: false,
  async render(root, ctx) {
    const { h, formErrors, toast } = ctx.ui;
    const t = ctx.t;
    const rules = await ctx.api("/admin/loyalty/rules");
    if (!ctx.isCurrent()) return;
    const inputs = {};
    const grid = h("div", { class: "form-grid" });
    for (const f of FIELDS) {
      const id = `rule-${f.name.replace(".", "-")}`;
      let input;
      if (f.type === "select") {
        input = h("select", { id, name: f.name }, f.options.map((o) => h("option", { value: o, selected: get(rules, f.name) === o }, o)));
      } else if (f.type === "checkbox") {
        input = h("input", { id, name: f.name, type: "checkbox", checked: Boolean(get(rules, f.name)) });
      } else {
        const v = get(rules, f.name);
        input = h("input", { id, name: f.name, type: "number", step: f.step || "1", value: v == null ? "" : String(v) });
      }
      inputs[f.name] = { input, f };
      grid.append(h("label", { for: id }, t(f.label)), h("div", { class: "field" }, input));
    }
    const json = h("textarea", { id: "rules-json", name: "rules", rows: "18", class: "mono", spellcheck: "false", style: "width:100%; box-sizing:border-box",
      value: JSON.stringify(rules, null, 2) });
    const submit = h("button", { type: "submit", class: "primary", id: "rules-save" }, t(L.save));
    const form = h("form", { id: "rules-form", novalidate: true },
      h("h2", {}, t(L.common)), grid,
      h("h2", {}, t(L.json)), h("div", { class: "field" }, json),
      h("div", { class: "actions" }, submit));

    // The form fields win over the JSON text for the fields they show.
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      formErrors(form, null);
      let doc;
      try {
        doc = JSON.parse(json.value);
      } catch (err) {
        formErrors(form, { details: [{ field: "rules", message: t(L.badJson) + err.message }] });
        return;
      }
      for (const [name, { input, f }] of Object.entries(inputs)) {
        if (f.type === "checkbox") set(doc, name, input.checked);
        else if (f.type === "select") set(doc, name, input.value);
        else set(doc, name, input.value === "" ? null : Number(input.value));
      }
      submit.disabled = true;
      try {
        const saved = await ctx.api("/admin/loyalty/rules", { method: "PUT", body: doc });
        json.value = JSON.stringify(saved, null, 2);
        toast(L.saved);
      } catch (err) {
        if (err.status === 422) formErrors(form, err);
        else toast(err.message, { kind: "error" });
      } finally {
        submit.disabled = false;
      }
    });
    const jobs = h("div", { class: "actions", id: "rules-jobs" }, JOBS.map((job) => {
      const button = h("button", { type: "button", "data-job": job.id }, t(job.label));
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const out = await ctx.api(`/admin/loyalty/jobs/${job.id}`, { method: "POST" });
          const summary = Object.entries(out).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
          toast(t(L.jobDone) + summary.join(", "));
        } catch (err) {
          toast(err.message, { kind: "error" });
        } finally {
          button.disabled = false;
        }
      });
      return button;
    }));
    root.append(h("section", { class: "card" }, form), h("section", { class: "card" }, h("h2", {}, t(L.jobs)), jobs));
  },
};

// Privacy (PIPL): export a user's data as a JSON file, erase it (owner keys, two clicks), past requests; consents:
// current yes/no users per purpose and one user's consent history (analyst keys and up).

const L = {
  request: { zh: "导出或删除", en: "Export or erase" },
  intro: {
    zh: "按用户 ID 导出其全部个人数据（JSON 文件），或从所有存储中删除。涉及资金的记录（已用于订单的优惠券、订单、佣金、提现）保留金额、匿名化用户 ID。",
    en: "Export everything huoli holds about a user (a JSON file), or erase it from every store. Records of money (coupons used on orders, orders, commissions, withdrawals) keep their amounts with the user id anonymised.",
  },
  user: { zh: "用户 ID", en: "User id" },
  userPh: { zh: "例如：u_3f9a…", en: "e.g. u_3f9a…" },
  export: { zh: "导出数据（JSON）", en: "Export (JSON)" },
  erase: { zh: "删除数据", en: "Erase" },
  confirm: { zh: "确认删除？不可撤销，再点一次", en: "Erase for good? Click again" },
  eraseHint: {
    zh: "删除不可撤销，仅所有者（owner）密钥可操作；点击两次确认。用户的登录会话同时失效。",
    en: "Erasure cannot be undone and needs an owner key; click twice to confirm. The user's sessions end too.",
  },
  needUser: { zh: "请输入用户 ID", en: "Enter a user id" },
  exported: { zh: "已导出并下载：", en: "Exported and downloaded: " },
  erased: { zh: "已删除：", en: "Erased: " },
  events: { zh: "条事件", en: "events" },
  tables: { zh: "张表有数据", en: "tables with rows" },
  rowsExported: { zh: "行数据", en: "rows" },
  rows: { zh: "行删除", en: "rows deleted" },
  anonymised: { zh: "行匿名化", en: "rows anonymised" },
  list: { zh: "请求记录", en: "Past requests" },
  at: { zh: "时间", en: "Time" },
  kind: { zh: "类型", en: "Kind" },
  status: { zh: "状态", en: "Status" },
  who: { zh: "操作者", en: "Requested by" },
  result: { zh: "结果", en: "Result" },
  empty: { zh: "还没有数据请求。", en: "No requests yet." },
  forbidden: { zh: "只有运营或所有者角色的密钥可以处理用户数据请求。", en: "Only operator and owner keys can handle data requests." },
  ownerOnly: { zh: "只有所有者（owner）密钥可以删除用户数据。", en: "Only an owner key can erase a user's data." },
  cli: { zh: "命令行", en: "CLI" },
  roles: {
    analyst: { zh: "分析员", en: "Analyst" },
    operator: { zh: "运营", en: "Operator" },
    owner: { zh: "所有者", en: "Owner" },
  },
  kinds: { export: { zh: "导出", en: "Export" }, erasure: { zh: "删除", en: "Erasure" } },
  consents: { zh: "授权与同意", en: "Consents" },
  consentsIntro: {
    zh: "用户在小程序中对各用途的授权与同意（最新一次决定为准）。撤回后，个性化推荐、营销消息等功能不再对该用户使用。",
    en: "What users agreed to or withdrew, per purpose (their latest decision counts). After a withdrawal, recommendations, marketing messages and the like stop using that user's data.",
  },
  purpose: { zh: "用途", en: "Purpose" },
  basis: { zh: "规则", en: "Rule" },
  grantedUsers: { zh: "当前同意（人）", en: "Granted (users)" },
  withdrawnUsers: { zh: "拒绝或撤回（人）", en: "Declined or withdrawn (users)" },
  byVersion: { zh: "按指引版本", en: "By policy version" },
  lookup: { zh: "查询用户", en: "Look up" },
  current: { zh: "当前状态", en: "Current state" },
  history: { zh: "历史记录", en: "History" },
  decision: { zh: "决定", en: "Decision" },
  version: { zh: "指引版本", en: "Policy version" },
  source: { zh: "来源", en: "Source" },
  evidence: { zh: "记录依据", en: "Evidence" },
  noHistory: { zh: "该用户还没有授权或同意记录。", en: "No consent decisions for this user." },
  purposes: {
    privacy_policy: { zh: "用户隐私保护指引", en: "Privacy guide" },
    personalised_recommendations: { zh: "个性化推荐", en: "Personalised recommendations" },
    marketing_messages: { zh: "营销消息", en: "Marketing messages" },
    analytics: { zh: "统计分析", en: "Analytics" },
  },
  bases: {
    authorisation: { zh: "需授权", en: "Authorisation" },
    opt_out: { zh: "默认开启，可关闭", en: "Opt-out" },
    opt_in: { zh: "需主动同意", en: "Opt-in" },
  },
  decisions: {
    yes: { zh: "同意", en: "Granted" },
    no: { zh: "拒绝/撤回", en: "Declined / withdrawn" },
    none: { zh: "未选择", en: "Not decided" },
  },
  sources: {
    sdk: { zh: "小程序", en: "Mini-program" },
    server: { zh: "商户后台", en: "Merchant backend" },
    operator: { zh: "运营录入", en: "Operator" },
  },
  statuses: {
    running: { zh: "进行中", en: "Running" },
    completed: { zh: "已完成", en: "Completed" },
    failed: { zh: "失败", en: "Failed" },
  },
};

const DANGER = "color: var(--err); border-color: var(--err);";

const named = (table, v) => table[v] || { zh: v, en: v };
const decisionLabel = (granted) => (granted === true ? L.decisions.yes : granted === false ? L.decisions.no : L.decisions.none);

// The consents section: counts per purpose and one user's history. Analysts may read it.
function consentSection(ctx) {
  const { h, clear, table, formErrors, toast } = ctx.ui;
  const t = ctx.t;
  const summarySlot = h("div", { id: "consent-summary" });
  const user = h("input", {
    id: "consent-user", name: "user_id", type: "text", autocomplete: "off", spellcheck: "false", placeholder: t(L.userPh),
  });
  const lookupBtn = h("button", { type: "submit", id: "consent-lookup" }, t(L.lookup));
  const form = h("form", { id: "consent-form", novalidate: true },
    h("div", { class: "form-grid" },
      h("label", { for: "consent-user" }, t(L.user)), h("div", { class: "field" }, user), h("span"), h("div", {}, lookupBtn)));
  const userSlot = h("div", { id: "consent-user-result" });

  const summaryColumns = [
    { key: "purpose", title: t(L.purpose), format: (v) => t(named(L.purposes, v)) },
    { key: "basis", title: t(L.basis), format: (v) => t(named(L.bases, v)) },
    { key: "granted", title: t(L.grantedUsers), align: "right", format: ctx.fmt.number },
    { key: "withdrawn", title: t(L.withdrawnUsers), align: "right", format: ctx.fmt.number },
    {
      key: "granted_by_version", title: t(L.byVersion),
      format: (v) => Object.entries(v || {}).map(([version, n]) => `${version}: ${ctx.fmt.number(n)}`).join(" · ") || "—",
    },
  ];
  const currentColumns = [
    { key: "purpose", title: t(L.purpose), format: (v) => t(named(L.purposes, v)) },
    { key: "granted", title: t(L.decision), format: (v) => t(decisionLabel(v)) },
    { key: "policy_version", title: t(L.version), format: (v) => v || "—" },
    { key: "source", title: t(L.source), format: (v) => (v ? t(named(L.sources, v)) : "—") },
    { key: "recorded_at", title: t(L.at), format: (v) => (v ? ctx.fmt.datetime(v) : "—") },
  ];
  const historyColumns = [
    { key: "recorded_at", title: t(L.at), format: (v) => ctx.fmt.datetime(v) },
    { key: "purpose", title: t(L.purpose), format: (v) => t(named(L.purposes, v)) },
    { key: "granted", title: t(L.decision), format: (v) => t(decisionLabel(v)) },
    { key: "policy_version", title: t(L.version) },
    { key: "source", title: t(L.source), format: (v) => t(named(L.sources, v)) },
    {
      key: "ip", title: t(L.evidence),
      format: (v, r) => h("span", { class: "mono" }, [r.recorded_by, v, r.user_agent].filter(Boolean).join(" · ") || "—"),
    },
  ];

  async function loadSummary() {
    const rows = await ctx.api("/admin/privacy/consents/summary");
    if (ctx.isCurrent()) clear(summarySlot).append(table(summaryColumns, rows));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formErrors(form, null);
    const id = user.value.trim();
    if (!id) {
      formErrors(form, { details: [{ field: "user_id", message: t(L.needUser) }] });
      return;
    }
    lookupBtn.disabled = true;
    try {
      const data = await ctx.api("/admin/privacy/consents", { query: { user_id: id } });
      if (!ctx.isCurrent()) return;
      clear(userSlot).append(
        h("h3", {}, t(L.current)), table(currentColumns, data.consents),
        h("h3", {}, t(L.history)), h("div", { id: "consent-history" }, table(historyColumns, data.history, { empty: L.noHistory })),
      );
    } catch (err) {
      if (err.status === 422) formErrors(form, err);
      else toast(err.message, { kind: "error" });
    } finally {
      lookupBtn.disabled = false;
    }
  });

  const section = h("section", { class: "card", id: "consents" },
    h("h2", {}, t(L.consents)), h("p", { class: "muted" }, t(L.consentsIntro)), summarySlot,
    h("h3", {}, t(L.lookup)), form, userSlot);
  return { section, loadSummary };
}

// Rows per kind across domains and tables: a plain table name counts deletions, ":anonymised" anonymisations.
function tally(result) {
  const sums = { rows: 0, anonymised: 0, tables: 0 };
  for (const tables of Object.values(result?.operational || {})) {
    for (const [table, n] of Object.entries(tables)) {
      const count = Array.isArray(n) ? n.length : Number(n) || 0;
      if (count) sums.tables += 1;
      if (table.endsWith(":anonymised")) sums.anonymised += count;
      else if (!table.includes(":")) sums.rows += count;
    }
  }
  sums.events = result?.event_store?.events ?? (Array.isArray(result?.events) ? result.events.length : 0);
  return sums;
}

export default {
  id: "privacy",
  title: { zh: "用户数据请求", en: "Privacy requests" },
  group: "settings",
  order: 920,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, formErrors, toast } = ctx.ui;
    const t = ctx.t;
    const user = h("input", {
      id: "privacy-user", name: "user_id", type: "text", autocomplete: "off", spellcheck: "false", placeholder: t(L.userPh),
    });
    const exportBtn = h("button", { type: "submit", id: "privacy-export", class: "primary" }, t(L.export));
    const eraseBtn = h("button", { type: "button", id: "privacy-erase", style: DANGER }, t(L.erase));
    const form = h("form", { id: "privacy-form", novalidate: true },
      h("div", { class: "form-grid" },
        h("label", { for: "privacy-user" }, t(L.user)), h("div", { class: "field" }, user),
        h("span"), h("div", {}, exportBtn, " ", eraseBtn, h("p", { class: "muted" }, t(L.eraseHint)))));
    const outcome = h("div", { id: "privacy-result", role: "status" });
    const listSlot = h("div", { id: "privacy-table" });

    function userId() {
      const value = user.value.trim();
      if (!value) formErrors(form, { details: [{ field: "user_id", message: t(L.needUser) }] });
      return value;
    }

    function disarm() {
      delete eraseBtn.dataset.armed;
      eraseBtn.textContent = t(L.erase);
    }

    function summary(sums, kind) {
      const parts = [`${sums.events} ${t(L.events)}`, `${sums.tables} ${t(L.tables)}`];
      if (sums.rows) parts.push(`${sums.rows} ${t(kind === "export" ? L.rowsExported : L.rows)}`);
      if (sums.anonymised) parts.push(`${sums.anonymised} ${t(L.anonymised)}`);
      return parts.join(" · ");
    }

    function download(data) {
      const name = `privacy-export-${data.app_id}-${data.user_id}.json`.replace(/[^A-Za-z0-9_.-]/g, "_");
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const link = h("a", { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      return name;
    }

    const columns = [
      { key: "created_at", title: t(L.at), format: (v) => ctx.fmt.datetime(v) },
      { key: "kind", title: t(L.kind), format: (v) => t(L.kinds[v] || { zh: v, en: v }) },
      { key: "user_id", title: t(L.user), format: (v) => h("span", { class: "mono" }, v) },
      {
        key: "status", title: t(L.status),
        format: (v, r) => h("span", { title: r.error || "" }, t(L.statuses[v] || { zh: v, en: v })),
      },
      {
        key: "requested_by", title: t(L.who),
        format: (v, r) => {
          if (r.requested_by_kind === "cli") return `${t(L.cli)} · ${v}`;
          const role = L.roles[r.requested_by_role] ? t(L.roles[r.requested_by_role]) : r.requested_by_role || "";
          return h("span", {}, role, " · ", h("span", { class: "mono" }, v));
        },
      },
      { key: "result", title: t(L.result), format: (v, r) => (v ? summary(tally(v), r.kind) : "—") },
    ];

    async function load() {
      const rows = (await ctx.api("/admin/privacy/requests?limit=50")).items;
      if (ctx.isCurrent()) clear(listSlot).append(table(columns, rows, { empty: L.empty }));
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      formErrors(form, null);
      disarm();
      const id = userId();
      if (!id) return;
      exportBtn.disabled = true;
      try {
        const data = await ctx.api("/admin/privacy/exports", { method: "POST", body: { user_id: id } });
        const name = download(data);
        clear(outcome).append(h("p", {}, t(L.exported), h("span", { class: "mono" }, name), " — ", summary(tally(data), "export")));
        await load();
      } catch (err) {
        if (err.status === 422) formErrors(form, err);
        else toast(err.message, { kind: "error" });
      } finally {
        exportBtn.disabled = false;
      }
    });

    eraseBtn.addEventListener("click", async () => {
      formErrors(form, null);
      const id = userId();
      if (!id) return;
      // Two clicks instead of a dialog: the first arms the button, the second erases.
      if (eraseBtn.dataset.armed !== id) {
        eraseBtn.dataset.armed = id;
        eraseBtn.textContent = t(L.confirm);
        return;
      }
      eraseBtn.disabled = true;
      try {
        const done = await ctx.api("/admin/privacy/erasures", { method: "POST", body: { user_id: id, confirm: id } });
        clear(outcome).append(h("p", {}, t(L.erased), h("span", { class: "mono" }, id), " — ", summary(tally(done.result), "erasure")));
        await load();
      } catch (err) {
        if (err.status === 403) toast(L.ownerOnly, { kind: "error" });
        else if (err.status === 422) formErrors(form, err);
        else toast(err.message, { kind: "error" });
      } finally {
        eraseBtn.disabled = false;
        disarm();
      }
    });
    user.addEventListener("input", disarm);

    const requestCard = h("section", { class: "card" }, h("h2", {}, t(L.request)), h("p", { class: "muted" }, t(L.intro)), form, outcome);
    const listCard = h("section", { class: "card" }, h("h2", {}, t(L.list)), listSlot);
    const consentsPart = consentSection(ctx);
    root.append(requestCard, listCard, consentsPart.section);
    const [requests, counts] = await Promise.allSettled([load(), consentsPart.loadSummary()]);
    if (requests.status === "rejected") {
      if (requests.reason?.status !== 403) throw requests.reason;
      // Analysts cannot handle requests, but may read the consents below.
      const closed = h("p", { class: "page-error", role: "alert", id: "privacy-forbidden" }, t(L.forbidden));
      requestCard.replaceWith(closed);
      listCard.remove();
    }
    if (counts.status === "rejected") throw counts.reason;
  },
};

// The audit trail: who did what and when, with the request and the rows it changed. Operators and owners.

const L = {
  filters: { zh: "筛选", en: "Filter" },
  action: { zh: "操作包含", en: "Action contains" },
  actionPh: { zh: "例如：/keys、loyalty", en: "e.g. /keys, loyalty" },
  actor: { zh: "操作者（密钥 ID）", en: "Actor (key id)" },
  search: { zh: "查询", en: "Search" },
  list: { zh: "操作记录", en: "Trail" },
  at: { zh: "时间", en: "Time" },
  who: { zh: "操作者", en: "Actor" },
  what: { zh: "操作", en: "Action" },
  target: { zh: "对象", en: "Target" },
  request: { zh: "提交内容", en: "Request" },
  changes: { zh: "数据变更", en: "Changes" },
  rows: { zh: "行", en: "rows" },
  before: { zh: "变更前", en: "Before" },
  after: { zh: "变更后", en: "After" },
  more: { zh: "加载更多", en: "Load more" },
  empty: { zh: "还没有操作记录。", en: "No actions recorded yet." },
  forbidden: { zh: "只有运营或所有者角色的密钥可以查看操作记录。", en: "Only operator and owner keys can read the audit trail." },
  cli: { zh: "命令行", en: "CLI" },
  roles: {
    analyst: { zh: "分析员", en: "Analyst" },
    operator: { zh: "运营", en: "Operator" },
    owner: { zh: "所有者", en: "Owner" },
  },
  ops: {
    insert: { zh: "新增", en: "insert" },
    update: { zh: "修改", en: "update" },
    delete: { zh: "删除", en: "delete" },
  },
  methods: {
    POST: { zh: "新建/执行", en: "Create / run" },
    PUT: { zh: "保存", en: "Save" },
    PATCH: { zh: "修改", en: "Change" },
    DELETE: { zh: "删除", en: "Delete" },
  },
};

const PAGE = 50;

export default {
  id: "audit",
  title: { zh: "操作日志", en: "Audit trail" },
  group: "settings",
  order: 910,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, toast } = ctx.ui;
    const t = ctx.t;
    const action = h("input", { id: "audit-action", name: "action", type: "text", placeholder: t(L.actionPh) });
    const actor = h("input", { id: "audit-actor", name: "actor_id", type: "text", autocomplete: "off" });
    const submit = h("button", { type: "submit", class: "primary" }, t(L.search));
    const form = h("form", { id: "audit-filter", novalidate: true },
      h("div", { class: "form-grid" },
        h("label", { for: "audit-action" }, t(L.action)), h("div", { class: "field" }, action),
        h("label", { for: "audit-actor" }, t(L.actor)), h("div", { class: "field" }, actor),
        h("span"), h("div", {}, submit)));
    const listSlot = h("div", { id: "audit-table" });
    const more = h("button", { type: "button", id: "audit-more", hidden: true }, t(L.more));
    let rows = [];
    let cursor = null; // the next page's cursor (GET /admin/audit answers {items, next_cursor})

    function describe(entry) {
      const [method, path] = entry.action.split(" ", 2);
      const verb = L.methods[method] ? t(L.methods[method]) : method;
      return h("span", {}, verb, " ", h("span", { class: "mono" }, path || entry.action));
    }

    function who(entry) {
      if (entry.actor_kind === "cli") return `${t(L.cli)} · ${entry.actor_id}`;
      const role = L.roles[entry.actor_role] ? t(L.roles[entry.actor_role]) : entry.actor_role || "";
      return h("span", {}, role, " · ", h("span", { class: "mono" }, entry.actor_id));
    }

    function values(obj) {
      if (!obj) return "—";
      return h("code", { class: "mono" }, JSON.stringify(obj));
    }

    function changes(entry) {
      if (!entry.changes.length) return "—";
      const body = entry.changes.map((c) =>
        h("tr", {},
          h("td", {}, `${t(L.ops[c.op] || { zh: c.op, en: c.op })} ${c.table}`),
          h("td", {}, values(c.before)),
          h("td", {}, values(c.after))));
      return h("details", {},
        h("summary", {}, `${entry.changes.length} ${t(L.rows)}`),
        h("table", { class: "audit-changes" },
          h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, t(L.before)), h("th", {}, t(L.after)))),
          h("tbody", {}, body)));
    }

    const columns = [
      { key: "at", title: t(L.at), format: (v) => ctx.fmt.datetime(v) },
      { key: "actor_id", title: t(L.who), format: (_, e) => who(e) },
      { key: "action", title: t(L.what), format: (_, e) => describe(e) },
      {
        key: "target", title: t(L.target),
        format: (v) => Object.entries(v).map(([k, x]) => `${k}=${x}`).join(", ") || "—",
      },
      { key: "request", title: t(L.request), format: (v) => values(v) },
      { key: "changes", title: t(L.changes), format: (_, e) => changes(e) },
    ];

    async function load(append) {
      const params = new URLSearchParams({ limit: String(PAGE) });
      if (action.value.trim()) params.set("action", action.value.trim());
      if (actor.value.trim()) params.set("actor_id", actor.value.trim());
      if (append && cursor) params.set("cursor", cursor);
      const page = await ctx.api(`/admin/audit?${params}`);
      if (!ctx.isCurrent()) return;
      rows = append ? rows.concat(page.items) : page.items;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(listSlot).append(rows.length ? table(columns, rows) : h("p", { class: "empty" }, t(L.empty)));
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await load(false);
      } catch (err) {
        toast(err.message, { kind: "error" });
      }
    });
    more.addEventListener("click", () => load(true).catch((err) => toast(err.message, { kind: "error" })));

    root.append(
      h("section", { class: "card" }, h("h2", {}, t(L.filters)), form),
      h("section", { class: "card" }, h("h2", {}, t(L.list)), listSlot, more),
    );
    try {
      await load(false);
    } catch (err) {
      if (err.status === 403) {
        clear(root).append(h("p", { class: "page-error", role: "alert", id: "audit-forbidden" }, t(L.forbidden)));
        return;
      }
      throw err;
    }
  },
};

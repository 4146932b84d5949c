// API keys of the current app: list, create (the full key is shown once, with a copy button), revoke (two
// clicks; never the app's last owner key). Owner role only. The key this browser uses is marked.
import * as store from "/console/static/lib/store.js";

const ROLES = ["analyst", "operator", "owner"];
const L = {
  list: { zh: "密钥列表", en: "Keys" },
  create: { zh: "创建密钥", en: "Create a key" },
  name: { zh: "名称", en: "Name" },
  namePh: { zh: "例如：运营小王", en: "e.g. growth team" },
  role: { zh: "角色", en: "Role" },
  created: { zh: "创建时间", en: "Created" },
  status: { zh: "状态", en: "Status" },
  active: { zh: "有效", en: "Active" },
  revokedAt: { zh: "已吊销于 ", en: "Revoked " },
  revoke: { zh: "吊销", en: "Revoke" },
  confirm: { zh: "确认吊销？", en: "Confirm revoke?" },
  revoked: { zh: "密钥已吊销", en: "Key revoked" },
  submit: { zh: "创建", en: "Create" },
  issued: { zh: "新密钥（只显示这一次，请立即复制保存）：", en: "New key (shown only once — copy it now):" },
  issuedNote: { zh: "把它交给使用者；本页之后只显示密钥 ID。", en: "Hand it to whoever uses it; this page shows only its id from now on." },
  inUse: { zh: "（本浏览器正在使用）", en: " (used by this browser)" },
  lastOwner: {
    zh: "这是应用唯一有效的 owner 密钥，不能吊销：请先创建另一个 owner 密钥。",
    en: "This is the app's last owner key and cannot be revoked: create another owner key first.",
  },
  rolesLead: {
    zh: "分析员只能查看数据；运营还可以配置活动、积分和实验；所有者还可以管理密钥和应用设置、新建应用。",
    en: "Analysts read data; operators also configure campaigns, points and experiments; owners also manage keys and app settings, and create apps.",
  },
  roles: {
    analyst: { zh: "分析员（只读）", en: "Analyst (read only)" },
    operator: { zh: "运营（可操作）", en: "Operator" },
    owner: { zh: "所有者（含密钥管理）", en: "Owner (manages keys)" },
  },
  forbidden: { zh: "只有 owner 角色的密钥可以管理密钥。", en: "Only an owner key can manage keys." },
};

export default {
  id: "keys",
  title: { zh: "API 密钥", en: "API keys" },
  group: "settings",
  order: 900,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, formErrors, toast, secretBox } = ctx.ui;
    const t = ctx.t;
    const listSlot = h("div", { id: "keys-table" });
    const issued = h("div", { id: "key-issued" });
    const name = h("input", { id: "key-name", name: "name", type: "text", autocomplete: "off", placeholder: t(L.namePh) });
    const role = h("select", { id: "key-role", name: "role" },
      ROLES.map((r) => h("option", { value: r, selected: r === "analyst" }, t(L.roles[r]))));
    const submit = h("button", { type: "submit", class: "primary" }, t(L.submit));
    const form = h("form", { id: "key-create", novalidate: true },
      h("div", { class: "form-grid" },
        h("label", { for: "key-name" }, t(L.name)), h("div", { class: "field" }, name),
        h("label", { for: "key-role" }, t(L.role)), h("div", { class: "field" }, role),
        h("span"), h("div", {}, submit)));

    function revokeButton(key) {
      const btn = h("button", { type: "button", class: "revoke", dataset: { key: key.id } }, t(L.revoke));
      btn.addEventListener("click", async () => {
        // Two clicks instead of a dialog: the first arms the button, the second revokes.
        if (btn.dataset.armed !== "1") {
          btn.dataset.armed = "1";
          btn.textContent = t(L.confirm);
          return;
        }
        btn.disabled = true;
        try {
          await ctx.api(`/admin/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
          toast(L.revoked);
          await load();
        } catch (err) {
          btn.disabled = false;
          btn.dataset.armed = "";
          btn.textContent = t(L.revoke);
          toast(err.code === "last_owner_key" ? t(L.lastOwner) : err.message, { kind: "error" });
        }
      });
      return btn;
    }

    const mine = /^hlk_([^.]+)\./.exec(store.currentKey()?.key || "")?.[1];
    const columns = [
      { key: "name", title: t(L.name), format: (v, k) => [v, k.id === mine ? h("span", { class: "in-use" }, t(L.inUse)) : null] },
      { key: "role", title: t(L.role), format: (v) => t(L.roles[v] || v) },
      { key: "id", title: "ID", format: (v) => h("span", { class: "mono" }, v) },
      { key: "created_at", title: t(L.created), format: (v) => ctx.fmt.datetime(v) },
      {
        key: "revoked_at", title: t(L.status),
        format: (v) => (v ? `${t(L.revokedAt)}${ctx.fmt.datetime(v)}` : t(L.active)),
      },
      { key: "actions", title: "", format: (_, k) => (k.revoked_at ? "" : revokeButton(k)) },
    ];

    async function load() {
      const keys = await ctx.apiAll("/admin/keys");
      if (ctx.isCurrent()) clear(listSlot).append(table(columns, keys));
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      formErrors(form, null);
      submit.disabled = true;
      try {
        const created = await ctx.api("/admin/keys", { method: "POST", body: { name: name.value.trim(), role: role.value } });
        clear(issued).append(secretBox(created.key, { id: "key-secret", label: L.issued, note: L.issuedNote }));
        form.reset();
        await load();
      } catch (err) {
        if (err.status === 422 || err.status === 409) formErrors(form, err);
        else toast(err.message, { kind: "error" });
      } finally {
        submit.disabled = false;
      }
    });

    root.append(
      h("section", { class: "card" }, h("h2", {}, t(L.create)), h("p", { class: "muted" }, t(L.rolesLead)), form, issued),
      h("section", { class: "card" }, h("h2", {}, t(L.list)), listSlot),
    );
    try {
      await load();
    } catch (err) {
      if (err.status === 403) {
        clear(root).append(h("p", { class: "page-error", role: "alert", id: "keys-forbidden" }, t(L.forbidden)));
        return;
      }
      throw err;
    }
  },
};

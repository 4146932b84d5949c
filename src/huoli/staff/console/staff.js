// Staff: the app's members and their roles, invitations (owners), and my own sessions (people signed in).

const L = {
  members: { zh: "成员", en: "Members" },
  username: { zh: "用户名", en: "Username" },
  role: { zh: "角色", en: "Role" },
  totp: { zh: "两步验证", en: "2-step" },
  joined: { zh: "加入时间", en: "Joined" },
  actions: { zh: "操作", en: "Actions" },
  on: { zh: "已开启", en: "on" },
  off: { zh: "未开启", en: "off" },
  remove: { zh: "移出", en: "Remove" },
  reset: { zh: "重置密码", en: "Reset password" },
  signout: { zh: "强制下线", en: "Sign out" },
  resetIssued: { zh: "一次性重置令牌（24 小时内有效，只显示这一次）：", en: "One-time reset token (24 h, shown once):" },
  invite: { zh: "邀请成员", en: "Invite a member" },
  inviteNote: { zh: "备注（给谁）", en: "Note (who it is for)" },
  inviteSubmit: { zh: "生成邀请链接", en: "Create invitation" },
  inviteIssued: { zh: "一次性邀请令牌（7 天内有效，只显示这一次）：对方用它设置用户名和密码。", en: "One-time invitation token (7 days, shown once): the invitee sets a username and password with it." },
  invitations: { zh: "邀请", en: "Invitations" },
  status: { zh: "状态", en: "Status" },
  accepted: { zh: "已接受", en: "accepted" },
  pending: { zh: "待接受", en: "pending" },
  revoked: { zh: "已撤销", en: "revoked" },
  expires: { zh: "过期时间", en: "Expires" },
  sessions: { zh: "我的登录会话", en: "My sessions" },
  created: { zh: "登录时间", en: "Signed in" },
  lastSeen: { zh: "最近活动", en: "Last seen" },
  device: { zh: "浏览器", en: "Browser" },
  current: { zh: "（当前）", en: " (this one)" },
  revoke: { zh: "退出", en: "Revoke" },
  revokeAll: { zh: "退出其他所有会话", en: "Sign out everywhere else" },
  keyNoSessions: { zh: "使用 API 密钥登录时没有个人会话。", en: "Signed in with an API key: no personal sessions." },
  done: { zh: "已完成", en: "Done" },
  roles: {
    analyst: { zh: "分析员", en: "Analyst" },
    operator: { zh: "运营", en: "Operator" },
    owner: { zh: "所有者", en: "Owner" },
  },
};

const ROLES = ["analyst", "operator", "owner"];

export default {
  id: "staff",
  title: { zh: "团队成员", en: "Team" },
  group: "settings",
  order: 905,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, toast, secretBox, formErrors } = ctx.ui;
    const t = ctx.t;
    const owner = ctx.app.role === "owner";
    const fail = (err) => toast(String(err?.message || err), { kind: "error" });
    const membersSlot = h("div", { id: "staff-members" });
    const inviteSlot = h("div", { id: "staff-invite" });
    const sessionsSlot = h("div", { id: "staff-sessions" });
    root.append(h("h2", {}, t(L.members)), membersSlot);
    if (owner) root.append(h("h2", {}, t(L.invite)), inviteSlot);
    root.append(h("h2", {}, t(L.sessions)), sessionsSlot);

    async function members() {
      const rows = await ctx.apiAll("/admin/staff");
      const roleCell = (role, row) => {
        if (!owner) return t(L.roles[role]);
        const sel = h("select", { "aria-label": t(L.role), dataset: { staff: row.id } },
          ROLES.map((r) => h("option", { value: r, selected: r === role }, t(L.roles[r]))));
        sel.addEventListener("change", () => ctx.api(`/admin/staff/${row.id}/role`, { method: "PUT", body: { role: sel.value } })
          .then(() => toast(t(L.done))).catch((err) => { fail(err); members(); }));
        return sel;
      };
      const actions = (_, row) => !owner ? "" : h("span", { class: "actions" },
        h("button", { type: "button", onclick: async () => {
          try {
            const r = await ctx.api(`/admin/staff/${row.id}/reset`, { method: "POST", body: {} });
            clear(inviteSlot).append(secretBox(r.token, { id: "staff-reset-token", label: L.resetIssued }));
          } catch (err) { fail(err); }
        } }, t(L.reset)),
        h("button", { type: "button", onclick: () => ctx.api(`/admin/staff/${row.id}/sessions`, { method: "DELETE" })
          .then(() => toast(t(L.done))).catch(fail) }, t(L.signout)),
        h("button", { type: "button", class: "danger", onclick: () => ctx.api(`/admin/staff/${row.id}`, { method: "DELETE" })
          .then(members).catch(fail) }, t(L.remove)));
      clear(membersSlot).append(table([
        { key: "username", title: L.username },
        { key: "role", title: L.role, format: roleCell },
        { key: "totp_enabled", title: L.totp, format: (v) => t(v ? L.on : L.off) },
        { key: "joined_at", title: L.joined, format: (v) => ctx.fmt.datetime(v) },
        { key: "id", title: L.actions, format: actions },
      ], rows));
    }

    async function invitations() {
      const role = h("select", { id: "staff-invite-role", name: "role" },
        ROLES.map((r) => h("option", { value: r, selected: r === "operator" }, t(L.roles[r]))));
      const note = h("input", { id: "staff-invite-note", name: "note", type: "text", maxlength: 200 });
      const form = h("form", { id: "staff-invite-form", novalidate: true }, h("div", { class: "form-grid" },
        h("label", { for: "staff-invite-role" }, t(L.role)), h("div", { class: "field" }, role),
        h("label", { for: "staff-invite-note" }, t(L.inviteNote)), h("div", { class: "field" }, note),
        h("span"), h("div", {}, h("button", { type: "submit", class: "primary" }, t(L.inviteSubmit)))));
      const issued = h("div", { id: "staff-invite-issued" });
      const list = h("div", { id: "staff-invitations" });
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        formErrors(form, null);
        try {
          const r = await ctx.api("/admin/staff/invitations", { method: "POST", body: { role: role.value, note: note.value.trim() || null } });
          clear(issued).append(secretBox(r.token, { id: "staff-invite-token", label: L.inviteIssued }));
          await invitationList();
        } catch (err) { formErrors(form, err); }
      });
      async function invitationList() {
        const rows = await ctx.apiAll("/admin/staff/invitations");
        clear(list).append(h("h3", {}, t(L.invitations)), table([
          { key: "note", title: L.inviteNote },
          { key: "role", title: L.role, format: (v) => t(L.roles[v]) },
          { key: "expires_at", title: L.expires, format: (v) => ctx.fmt.datetime(v) },
          { key: "accepted_at", title: L.status, format: (v, row) => t(row.revoked_at ? L.revoked : v ? L.accepted : L.pending) },
        ], rows));
      }
      clear(inviteSlot).append(form, issued, list);
      await invitationList();
    }

    async function sessions() {
      // An API key is a machine's credential: it has no personal sessions to list (the API answers 403).
      if (ctx.app.credential !== "staff") return clear(sessionsSlot).append(h("p", { class: "muted" }, t(L.keyNoSessions)));
      let rows;
      try {
        rows = await ctx.api("/admin/staff/sessions");
      } catch (err) {
        if (err?.code === "staff_only") return clear(sessionsSlot).append(h("p", { class: "muted" }, t(L.keyNoSessions)));
        throw err;
      }
      clear(sessionsSlot).append(table([
        { key: "created_at", title: L.created, format: (v, row) => `${ctx.fmt.datetime(v)}${row.current ? t(L.current) : ""}` },
        { key: "last_seen_at", title: L.lastSeen, format: (v) => ctx.fmt.datetime(v) },
        { key: "user_agent", title: L.device, format: (v, row) => `${(v || "").slice(0, 60)} ${row.ip || ""}` },
        { key: "id", title: L.actions, format: (id, row) => row.current ? "" : h("button", { type: "button",
          onclick: () => ctx.api(`/admin/staff/sessions/${id}`, { method: "DELETE" }).then(sessions).catch(fail) }, t(L.revoke)) },
      ], rows), h("div", { class: "actions" }, h("button", { type: "button", id: "staff-revoke-all",
        onclick: () => ctx.api("/admin/staff/sessions", { method: "DELETE", query: { keep_current: true } }).then(sessions).catch(fail) },
      t(L.revokeAll))));
    }

    await Promise.all([members(), owner ? invitations() : null, sessions()]);
  },
};

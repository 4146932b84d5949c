// The app's settings: name, WeChat AppID and AppSecret (write-only), the merchant backend's HMAC signing secret
// (reveal, rotate). Owner keys only; the API records every change and every reveal in the audit trail.

const L = {
  basics: { zh: "基本信息", en: "Basics" },
  id: { zh: "应用 ID", en: "App ID" },
  name: { zh: "应用名称", en: "App name" },
  timezone: { zh: "时区", en: "Timezone" },
  created: { zh: "创建时间", en: "Created" },
  saveName: { zh: "保存名称", en: "Save name" },
  wechat: { zh: "微信小程序", en: "WeChat mini-program" },
  wechatLead: {
    zh: "在微信公众平台（mp.weixin.qq.com）→ 开发管理 → 开发设置 中找到 AppID 和 AppSecret。用户登录需要两者；SDK 也可以用 AppID 上报事件。",
    en: "Find the AppID and AppSecret on mp.weixin.qq.com → Development → Development settings. User login needs both; the SDK may also send events with the AppID.",
  },
  appid: { zh: "AppID", en: "AppID" },
  secret: { zh: "AppSecret", en: "AppSecret" },
  secretSet: { zh: "已设置 ••••••••（已加密保存，不会再显示）", en: "Set •••••••• (stored encrypted, never shown again)" },
  secretUnset: { zh: "未设置", en: "Not set" },
  secretPh: { zh: "输入新的 AppSecret 以替换；留空则不修改", en: "Enter a new AppSecret to replace it; leave empty to keep" },
  secretPhNew: { zh: "粘贴 AppSecret", en: "Paste the AppSecret" },
  saveWechat: { zh: "保存微信设置", en: "Save WeChat settings" },
  saved: { zh: "已保存", en: "Saved" },
  nothing: { zh: "没有需要保存的修改。", en: "Nothing to save." },
  server: { zh: "服务端签名密钥（HMAC）", en: "Server signing secret (HMAC)" },
  serverLead: {
    zh: "商户后端调用 /v1/server/* 接口（订单支付、退款、积分等）时用这个密钥做 HMAC-SHA256 签名（见 docs/api.md）。请只保存在后端服务器上，不要放进小程序代码。",
    en: "Your merchant backend signs its /v1/server/* calls (orders paid, refunds, points…) with this key, HMAC-SHA256 (see docs/api.md). Keep it on the backend only, never in the mini-program.",
  },
  reveal: { zh: "显示密钥", en: "Show secret" },
  hide: { zh: "隐藏", en: "Hide" },
  revealNote: { zh: "查看操作会记入操作日志。", en: "Viewing it is recorded in the audit log." },
  rotate: { zh: "轮换密钥", en: "Rotate secret" },
  rotateWarn: {
    zh: "轮换后旧密钥立即失效：后端用旧密钥签名的调用都会被拒绝（401），直到后端换上新密钥。请先准备好更新后端，再轮换。",
    en: "Rotating ends the old secret at once: every call your backend signs with it is refused (401) until the backend uses the new one. Be ready to update the backend first.",
  },
  rotateConfirm: { zh: "输入应用 ID「{id}」以确认轮换：", en: "Type the app id “{id}” to confirm the rotation:" },
  rotateGo: { zh: "确认轮换", en: "Rotate now" },
  cancel: { zh: "取消", en: "Cancel" },
  rotated: {
    zh: "已生成新密钥，旧密钥已失效。请立即把新密钥更新到商户后端（本服务进程立即生效，其他进程 30 秒内）：",
    en: "New secret issued; the old one no longer works. Update your merchant backend now (effective here at once, in other processes within 30 s):",
  },
  forbidden: { zh: "只有 owner 角色的密钥可以查看和修改应用设置。", en: "Only an owner key can see and change the app's settings." },
};

export default {
  id: "app-settings",
  title: { zh: "应用设置", en: "App settings" },
  group: "settings",
  order: 880,
  range: false,
  async render(root, ctx) {
    const { h, clear, formErrors, toast, secretBox } = ctx.ui;
    const t = ctx.t;
    // An analyst or operator sees what the page is for and why it is closed, not a half-working form.
    if (ctx.app.role !== "owner") {
      root.append(h("p", { class: "page-error", role: "alert", id: "settings-forbidden" }, t(L.forbidden)));
      return;
    }
    let app = await ctx.api("/admin/app");

    const row = (label, value, id) => [h("dt", {}, t(label)), h("dd", { id }, value)];
    const input = (name, attrs = {}) => h("input", { id: `app-${name}`, name, type: "text", autocomplete: "off", ...attrs });

    // --- basics ---
    const name = input("name", { value: app.name });
    const nameSubmit = h("button", { type: "submit" }, t(L.saveName));
    const nameForm = h("form", { id: "app-name-form", novalidate: true },
      h("div", { class: "form-grid" },
        h("label", { for: "app-name" }, t(L.name)), h("div", { class: "field" }, name),
        h("span"), h("div", {}, nameSubmit)));

    // --- WeChat ---
    const appid = input("wx_appid", { value: app.wx_appid || "", placeholder: "wx0123456789abcdef", spellcheck: "false" });
    const secret = input("wx_secret", { type: "password", autocomplete: "new-password", spellcheck: "false" });
    const secretState = h("span", { id: "wx-secret-state", class: "small muted" });
    const wxSubmit = h("button", { type: "submit", class: "primary" }, t(L.saveWechat));
    const wxForm = h("form", { id: "app-wechat-form", novalidate: true },
      h("div", { class: "form-grid" },
        h("label", { for: "app-wx_appid" }, t(L.appid)), h("div", { class: "field" }, appid),
        h("label", { for: "app-wx_secret" }, t(L.secret)), h("div", { class: "field" }, secret, secretState),
        h("span"), h("div", {}, wxSubmit)));
    function showSecretState() {
      secretState.textContent = t(app.wx_secret_set ? L.secretSet : L.secretUnset);
      secret.placeholder = t(app.wx_secret_set ? L.secretPh : L.secretPhNew);
    }
    showSecretState();

    async function patch(form, button, body) {
      formErrors(form, null);
      button.disabled = true;
      try {
        app = await ctx.api("/admin/app", { method: "PATCH", body });
        toast(L.saved);
        return true;
      } catch (err) {
        if (err.status === 422 || err.status === 409) formErrors(form, err);
        else toast(err.message, { kind: "error" });
        return false;
      } finally {
        button.disabled = false;
      }
    }

    nameForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (await patch(nameForm, nameSubmit, { name: name.value })) {
        const shown = document.getElementById("app-name");
        if (shown) shown.textContent = app.name; // the top bar
      }
    });
    wxForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      if (appid.value.trim() !== (app.wx_appid || "")) body.wx_appid = appid.value.trim();
      if (secret.value !== "") body.wx_secret = secret.value;
      if (!Object.keys(body).length) {
        formErrors(wxForm, { message: t(L.nothing), details: [] });
        return;
      }
      if (await patch(wxForm, wxSubmit, body)) {
        secret.value = ""; // write-only: never kept in the page once sent
        showSecretState();
      }
    });

    // --- server signing secret ---
    const revealSlot = h("div", { id: "server-secret-slot" });
    const revealButton = h("button", { type: "button", id: "server-secret-reveal" }, t(L.reveal));
    revealButton.addEventListener("click", async () => {
      if (revealSlot.childElementCount) {
        clear(revealSlot);
        revealButton.textContent = t(L.reveal);
        return;
      }
      const { server_secret: value } = await ctx.api("/admin/app/server-secret/reveal", { method: "POST" });
      clear(revealSlot).append(secretBox(value, { id: "server-secret", note: L.revealNote }));
      revealButton.textContent = t(L.hide);
    });

    const rotateSlot = h("div", { id: "rotate-slot" });
    const rotateButton = h("button", { type: "button", id: "server-secret-rotate", class: "danger" }, t(L.rotate));
    rotateButton.addEventListener("click", () => {
      // A confirmation step that names the consequence and needs the app id typed, like the API does.
      const confirm = h("input", { id: "rotate-confirm", name: "confirm", type: "text", autocomplete: "off", spellcheck: "false" });
      const go = h("button", { type: "submit", class: "danger" }, t(L.rotateGo));
      const form = h("form", { id: "rotate-form", novalidate: true },
        h("p", { class: "note", role: "alert" }, t(L.rotateWarn)),
        h("label", { for: "rotate-confirm" }, t(L.rotateConfirm, { id: app.id })),
        h("div", { class: "field" }, confirm),
        h("div", { class: "actions" }, go,
          h("button", { type: "button", onclick: () => { clear(rotateSlot); rotateButton.hidden = false; } }, t(L.cancel))));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        formErrors(form, null);
        go.disabled = true;
        try {
          const { server_secret: value } = await ctx.api("/admin/app/server-secret/rotate", {
            method: "POST", body: { confirm: confirm.value.trim() },
          });
          clear(revealSlot);
          revealButton.textContent = t(L.reveal);
          clear(rotateSlot).append(secretBox(value, { id: "server-secret-new", label: L.rotated }));
          rotateButton.hidden = false;
        } catch (err) {
          go.disabled = false;
          if (err.status === 422) formErrors(form, err);
          else toast(err.message, { kind: "error" });
        }
      });
      rotateButton.hidden = true;
      clear(rotateSlot).append(form);
      confirm.focus();
    });

    root.append(
      h("section", { class: "card", id: "app-basics" }, h("h2", {}, t(L.basics)),
        h("dl", { class: "facts" },
          row(L.id, h("span", { class: "mono" }, app.id), "app-id"),
          row(L.timezone, app.timezone, "app-timezone"),
          row(L.created, ctx.fmt.datetime(app.created_at), "app-created")),
        nameForm),
      h("section", { class: "card", id: "app-wechat" }, h("h2", {}, t(L.wechat)),
        h("p", { class: "muted" }, t(L.wechatLead)), wxForm),
      h("section", { class: "card", id: "app-server-secret" }, h("h2", {}, t(L.server)),
        h("p", { class: "muted" }, t(L.serverLead)),
        h("div", { class: "actions" }, revealButton, rotateButton), revealSlot, rotateSlot),
    );
    if (ctx.params.focus === "wechat") appid.focus();
  },
};

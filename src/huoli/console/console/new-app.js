// Create another app on this server (POST /admin/apps): an owner of the current app may; the new app's owner
// key is shown once, and the console can switch to it. The first app of a fresh server is made at sign-in.
import * as store from "/console/static/lib/store.js";

const L = {
  lead: {
    zh: "为另一个小程序新建一个应用。它的数据、密钥和设置与当前应用完全分开；新应用的所有者密钥只显示一次。",
    en: "Create an app for another mini-program. Its data, keys and settings are separate from this app's; the new app's owner key is shown once.",
  },
  id: { zh: "应用 ID", en: "App ID" },
  idHint: { zh: "小写字母开头，用于接口和事件，如 my-shop；创建后不能修改", en: "Starts with a lowercase letter; used in the API and events, e.g. my-shop. Cannot change later." },
  name: { zh: "应用名称", en: "App name" },
  timezone: { zh: "时区", en: "Timezone" },
  tzHint: { zh: "按这个时区划分自然日（报表、签到）", en: "Local days (reports, check-in) follow this timezone" },
  submit: { zh: "创建应用", en: "Create app" },
  created: {
    zh: "应用「{name}」已创建。这是它的所有者密钥，只显示这一次——请复制并妥善保存：",
    en: "App “{name}” created. This is its owner key, shown only once — copy it and keep it safe:",
  },
  keyNote: {
    zh: "密钥也已保存在本浏览器的应用列表中（右上角切换应用）。",
    en: "The key is also kept in this browser's app list (the app switcher, top right).",
  },
  switchTo: { zh: "切换到新应用", en: "Switch to the new app" },
  forbidden: {
    zh: "只有 owner 角色的密钥可以新建应用（新应用的所有者密钥由创建者获得）。",
    en: "Only an owner key can create apps (its creator receives the new app's owner key).",
  },
};

export default {
  id: "app-new",
  title: { zh: "新建应用", en: "Create an app" },
  group: "settings",
  order: 890,
  range: false,
  async render(root, ctx) {
    const { h, clear, formErrors, toast, secretBox } = ctx.ui;
    const t = ctx.t;
    if (ctx.app.role !== "owner") {
      root.append(h("p", { class: "page-error", role: "alert", id: "new-app-forbidden" }, t(L.forbidden)));
      return;
    }
    const field = (name, label, attrs, hint) => [
      h("label", { for: `new-app-${name}` }, t(label)),
      h("div", { class: "field" }, h("input", { id: `new-app-${name}`, name, type: "text", autocomplete: "off", ...attrs }),
        hint ? h("span", { class: "small muted" }, t(hint)) : null),
    ];
    const submit = h("button", { type: "submit", class: "primary" }, t(L.submit));
    const form = h("form", { id: "new-app", novalidate: true },
      h("div", { class: "form-grid" },
        field("id", L.id, { placeholder: "my-shop", spellcheck: "false" }, L.idHint),
        field("name", L.name, {}),
        field("timezone", L.timezone, { value: "Asia/Shanghai", spellcheck: "false" }, L.tzHint),
        h("span"), h("div", {}, submit)));
    const result = h("div", { id: "new-app-result" });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      formErrors(form, null);
      submit.disabled = true;
      const value = (n) => form.elements[n].value.trim();
      try {
        const created = await ctx.api("/admin/apps", {
          method: "POST", body: { id: value("id"), name: value("name"), timezone: value("timezone") || "Asia/Shanghai" },
        });
        // Kept in this browser's list at once (a reload must not lose the only owner key); still on this app.
        store.saveKey(created.app.id, created.app.name, created.key.key);
        store.setCurrent(ctx.app.id);
        form.elements.id.value = "";
        form.elements.name.value = "";
        clear(result).append(
          secretBox(created.key.key, { id: "new-app-key", label: t(L.created, { name: created.app.name }), note: L.keyNote }),
          h("div", { class: "actions" }, h("button", {
            type: "button", class: "primary", id: "new-app-switch",
            onclick: () => {
              store.setCurrent(created.app.id);
              location.hash = "#/overview";
              location.reload();
            },
          }, t(L.switchTo))));
      } catch (err) {
        if (err.status === 422 || err.status === 409) formErrors(form, err);
        else toast(err.message, { kind: "error" });
      } finally {
        submit.disabled = false;
      }
    });
    root.append(h("section", { class: "card" }, h("p", { class: "muted" }, t(L.lead)), form, result));
  },
};

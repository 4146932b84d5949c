// Flags: list with kill switch, edit default value and rules (field errors from the API next to inputs).

const T = {
  title: { zh: "功能开关", en: "Flags" },
  key: { zh: "标识", en: "Key" },
  type: { zh: "类型", en: "Type" },
  def: { zh: "默认值", en: "Default" },
  rules: { zh: "规则", en: "Rules" },
  experiments: { zh: "实验", en: "Experiments" },
  state: { zh: "状态", en: "State" },
  killed: { zh: "已关闭", en: "Killed" },
  live: { zh: "生效中", en: "Live" },
  kill: { zh: "紧急关闭", en: "Kill" },
  revive: { zh: "恢复", en: "Revive" },
  edit: { zh: "编辑", en: "Edit" },
  save: { zh: "保存", en: "Save" },
  create: { zh: "新建开关", en: "New flag" },
  description: { zh: "说明", en: "Description" },
  saved: { zh: "已保存", en: "Saved" },
  empty: { zh: "还没有功能开关", en: "No flags yet" },
};

// One labelled input per line (the shell styles no form layout).
const FIELD = "display:flex;gap:.5rem;align-items:center;margin:.35rem 0";
const LABEL = "min-width:7rem";

function parseJson(text, type) {
  if (type === "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text; // the API names the field and the expected type
  }
}

export default {
  id: "flags",
  title: T.title,
  group: "experiment",
  order: 55,
  range: false,
  async render(root, ctx) {
    const { h, table } = ctx.ui;
    const t = ctx.t;
    const flags = await ctx.apiAll("/admin/flags");
    if (!ctx.isCurrent()) return;
    const rerender = () => ctx.navigate(`#/flags?r=${Date.now()}`);
    const editSlot = h("div", { id: "flag-edit" });

    function editor(flag) {
      const isNew = !flag;
      const f = flag || { key: "", type: "bool", default_value: false, rules: [], description: "" };
      const form = h("form", { class: "card", id: "flag-form" },
        h("h3", {}, isNew ? t(T.create) : `${t(T.edit)} ${f.key}`),
        isNew ? h("label", { class: "field", style: FIELD }, h("span", { style: LABEL }, t(T.key)), h("input", { name: "key", id: "flag-key" })) : "",
        isNew ? h("label", { class: "field", style: FIELD }, h("span", { style: LABEL }, t(T.type)),
          h("select", { name: "type", id: "flag-type" }, ["bool", "string", "number", "json"].map((x) => h("option", { value: x }, x)))) : "",
        h("label", { class: "field", style: FIELD }, h("span", { style: LABEL }, t(T.def)),
          h("input", { name: "default_value", id: "flag-default", value: f.type === "string" ? f.default_value : JSON.stringify(f.default_value) })),
        h("label", { class: "field", style: FIELD }, h("span", { style: LABEL }, t(T.description)), h("input", { name: "description", value: f.description || "" })),
        h("label", { class: "field", style: FIELD }, h("span", { style: LABEL }, `${t(T.rules)} (JSON)`),
          h("textarea", { name: "rules", id: "flag-rules", rows: 6, class: "mono" }, JSON.stringify(f.rules, null, 2))),
        h("button", { type: "submit", id: "flag-save" }, t(T.save)));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        ctx.ui.formErrors(form, null);
        const el = form.elements;
        const type = isNew ? el.namedItem("type").value : f.type;
        let rules;
        try {
          rules = JSON.parse(el.namedItem("rules").value || "[]");
        } catch {
          ctx.ui.formErrors(form, { details: [{ field: "rules", message: "JSON" }] });
          return;
        }
        const body = { default_value: parseJson(el.namedItem("default_value").value, type), rules, description: el.namedItem("description").value };
        try {
          if (isNew) await ctx.api("/admin/flags", { method: "POST", body: { key: el.namedItem("key").value.trim(), type, ...body } });
          else await ctx.api(`/admin/flags/${encodeURIComponent(f.key)}`, { method: "PATCH", body });
          ctx.ui.toast(t(T.saved));
          rerender();
        } catch (err) {
          if (err instanceof ctx.ApiError && err.status === 422) ctx.ui.formErrors(form, err);
          else ctx.ui.toast(err.message, { kind: "error" });
        }
      });
      return form;
    }

    async function toggle(flag) {
      try {
        await ctx.api(`/admin/flags/${encodeURIComponent(flag.key)}`, { method: "PATCH", body: { killed: !flag.killed } });
        rerender();
      } catch (err) {
        ctx.ui.toast(err.message, { kind: "error" });
      }
    }

    root.append(
      table([
        { key: "key", title: t(T.key) },
        { key: "type", title: t(T.type) },
        { key: "default_value", title: t(T.def), format: (v) => h("span", { class: "mono" }, JSON.stringify(v)) },
        { key: "rules", title: t(T.rules), align: "right", format: (v) => String(v.length) },
        { key: "experiment_rules", title: t(T.experiments), format: (v) => v.map((r) => r.key).join(", ") || "–" },
        { key: "killed", title: t(T.state), format: (v) => (v ? t(T.killed) : t(T.live)) },
        { key: "actions", title: "", format: (_, r) => h("span", {},
          h("button", { type: "button", class: "flag-kill", "data-flag": r.key, onclick: () => toggle(r) }, r.killed ? t(T.revive) : t(T.kill)),
          " ",
          h("button", { type: "button", class: "flag-edit", "data-flag": r.key, onclick: () => { ctx.ui.clear(editSlot).append(editor(r)); } }, t(T.edit))) },
      ], flags, { empty: t(T.empty) }),
      editSlot,
    );
    editSlot.append(editor(null));
  },
};

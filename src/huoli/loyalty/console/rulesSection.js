// One section of the app's loyalty rules document (GET/PUT /admin/loyalty/rules) edited on its own page: the
// save reads the document afresh and replaces only this section, so pages editing other sections never undo
// each other. Fields are named by their path in the document, so the API's errors land beside them.
import { computed, ref, watch } from "vue";
import { useConsole, useForm, useLoad } from "@console/blocks.js";

const clone = (v) => JSON.parse(JSON.stringify(v));

// The API names a few rules by the list they are about; say them at the row that breaks them.
export function placeDetail(d, doc, t) {
  let field = String(d.field || "");
  let message = d.message;
  const parts = field.split(".");
  if (/^checkin\.(streak|total)_rewards\.\d+\.reward$/.test(field)) {
    const reward = doc.checkin[parts[1]][Number(parts[2])]?.reward;
    field += reward && (reward.type === "points" || reward.type === "growth") ? ".amount" : ".ref";
  } else if (field === "tiers.levels") {
    const levels = doc.tiers.levels;
    const text = String(message);
    let i = 0;
    if (text.includes("strictly increasing")) i = Math.max(1, levels.findIndex((lv, k) => k > 0 && lv.min_growth <= levels[k - 1].min_growth));
    if (text.includes("unique")) i = levels.findIndex((lv, k) => levels.findIndex((o) => o.code === lv.code) !== k);
    field = `tiers.levels.${Math.max(i, 0)}.${text.includes("unique") ? "code" : "min_growth"}`;
  }
  if (/^String should match pattern/.test(String(message)) && field.endsWith(".code")) message = t("rules.codePattern");
  return { field, message };
}

export function useRulesSection(section, { toDraft = (x) => x, toDoc = (x) => x } = {}) {
  const ctx = useConsole();
  const form = useForm(ctx.t);
  const draft = ref(null);
  const doc = ref(null); // the whole document as last read (other sections, for previews)
  const saved = ref("");
  const load = useLoad(() => ctx.api("/admin/loyalty/rules"), { range: false });
  function take(d) {
    doc.value = d;
    draft.value = toDraft(clone(d[section]));
    saved.value = JSON.stringify(toDoc(clone(draft.value)));
  }
  watch(load.data, (d) => d && take(d));
  const dirty = computed(() => draft.value && JSON.stringify(toDoc(clone(draft.value))) !== saved.value);

  async function save(local = {}) {
    if (!form.check(local)) return null;
    const out = await form.submit(async () => {
      const fresh = await ctx.api("/admin/loyalty/rules");
      fresh[section] = toDoc(clone(draft.value));
      try {
        return await ctx.api("/admin/loyalty/rules", { method: "PUT", body: fresh });
      } catch (err) {
        if (Array.isArray(err?.details)) err.details = err.details.map((x) => placeDetail(x, fresh, ctx.t));
        throw err;
      }
    });
    if (!out) return null;
    take(out);
    ctx.toast("rules.saved");
    return out;
  }
  async function revert() {
    if (!(await ctx.confirm("rules.revertAsk", { confirm: "rules.revert" }))) return;
    form.clear();
    draft.value = toDraft(JSON.parse(saved.value));
  }
  return { ctx, form, draft, doc, dirty, save, revert, load };
}

// A reward in the operator's words: "10 积分", "优惠券 满99减10", "勋章 签到达人".
export function rewardText(t, r, names = {}) {
  if (!r) return "";
  if (r.type === "points" || r.type === "growth") return t(`engage.reward.${r.type}`, { n: r.amount });
  return t(`engage.reward.${r.type}`, { name: names[r.ref] || r.ref });
}

// The pickers' lists from GET /admin/analytics/vocabulary (once per app and session): events with how often
// the app sent them, pages by views, and the fields a filter or breakdown may name, each with its label.
import { computed } from "vue";
import { useLoad } from "@console/blocks.js";
import { vocabulary } from "./builder.js";

export function useVocabulary(ctx) {
  const { t } = ctx;
  const { data } = useLoad(() => vocabulary(ctx), { range: false });
  const events = computed(() => (data.value?.events || []).map((e) => ({
    value: e.name,
    note: e.events ? t("b.sent", { n: ctx.fmt.number(e.events) }) : t("b.catalogOnly"),
  })));
  const pages = computed(() => (data.value?.pages || []).map((p) => ({ value: p.page, note: t("b.views", { n: ctx.fmt.number(p.views) }) })));
  const fields = computed(() => [...(data.value?.fields || []), ...(data.value?.user_fields || [])]
    .map((f) => ({ value: f, note: fieldLabel(t, f) === f ? "" : fieldLabel(t, f) })));
  return { events, pages, fields };
}

// "channel" → 渠道, "user.first_channel" → 首次渠道, "properties.color" → 属性 color.
export function fieldLabel(t, field) {
  if (!field) return "";
  const key = `field.${field}`;
  const label = t(key);
  if (label !== key) return label;
  if (field.startsWith("properties.")) return t("field.property", { name: field.slice(11) });
  return field;
}

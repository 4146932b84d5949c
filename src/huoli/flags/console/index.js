// The flags domain's console pages (docs/console.md).
export default [
  { id: "flags", title: { zh: "功能开关", en: "Flags" }, group: "experiment", order: 55, range: false, component: () => import("./Flags.vue") },
];

// The backup domain's console page (docs/console.md).
export default [
  { id: "backups", title: { zh: "备份", en: "Backups" }, group: "settings", order: 940, range: false, component: () => import("./Backups.vue") },
];

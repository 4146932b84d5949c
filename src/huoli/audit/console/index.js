// The audit domain's console page (docs/console.md).
export default [
  { id: "audit", title: { zh: "操作日志", en: "Audit trail" }, group: "settings", order: 910, range: false, component: () => import("./Audit.vue") },
];

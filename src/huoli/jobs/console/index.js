// The jobs domain's console page (docs/console.md).
export default [
  { id: "jobs", title: { zh: "任务", en: "Jobs" }, group: "settings", order: 930, range: false, component: () => import("./Jobs.vue") },
];

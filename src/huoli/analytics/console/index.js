// The analytics domain's console pages (docs/console.md).
export default [
  { id: "dashboard", title: { zh: "数据看板", en: "Dashboard" }, group: "overview", order: 20, component: () => import("./Dashboard.vue") },
  { id: "retention", title: { zh: "留存分析", en: "Retention" }, group: "analytics", order: 30, component: () => import("./Retention.vue") },
  { id: "funnel", title: { zh: "漏斗分析", en: "Funnels" }, group: "analytics", order: 31, component: () => import("./Funnel.vue") },
  { id: "paths", title: { zh: "路径分析", en: "Paths" }, group: "analytics", order: 32, component: () => import("./Paths.vue") },
];

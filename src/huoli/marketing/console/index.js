// The marketing domain's console pages (docs/console.md: a page is an entry here and its .vue file).
// 营销日历: every activity on a month / week grid with clashes and festival plans; 活动效果: one activity's results.
export default [
  { id: "marketing-calendar", title: { zh: "营销日历", en: "Marketing calendar" }, group: "marketing", order: 38, range: false, component: () => import("./Calendar.vue") },
  { id: "activity-results", title: { zh: "活动效果", en: "Activity results" }, group: "marketing", order: 39, range: false, component: () => import("./Results.vue") },
];

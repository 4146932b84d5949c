// The events domain's console pages (docs/console.md: a page is an entry here and its .vue file).
export default [
  { id: "overview", title: { zh: "概览", en: "Overview" }, group: "overview", order: 10, component: () => import("./Overview.vue") },
  { id: "events", title: { zh: "事件", en: "Events" }, group: "events", order: 20, range: false, component: () => import("./Events.vue") },
];

// The privacy domain's console page (docs/console.md).
export default [
  { id: "privacy", title: { zh: "用户数据请求", en: "Privacy requests" }, group: "settings", order: 920, range: false, component: () => import("./Privacy.vue") },
];

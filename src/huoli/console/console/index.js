// The console domain's own pages: create an app, the app's settings, its API keys (docs/console.md).
export default [
  { id: "app-settings", title: "settings.title", group: "settings", order: 880, range: false, component: () => import("./Settings.vue") },
  { id: "app-new", title: "newapp.title", group: "settings", order: 890, range: false, component: () => import("./NewApp.vue") },
  { id: "keys", title: "keys.title", group: "settings", order: 900, range: false, component: () => import("./Keys.vue") },
];

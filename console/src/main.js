// The console: Vue 3 + Element Plus. The shell (App.vue) signs in, switches apps and language, keeps the
// date range and routes #/<page>?<params> to the pages each domain ships (pages.js).
import ElementPlus from "element-plus";
import "element-plus/dist/index.css";
import { createApp } from "vue";
import App from "./App.vue";
import { bindI18n, setLang, state } from "./lib/console.js";
import { makeI18n } from "./lib/i18n.js";
import { messages, pages } from "./pages.js";
import "./style.css";

const i18n = makeI18n(state.lang, messages);
bindI18n(i18n);
setLang(state.lang);
// What tests and the demo walk read: the pages the build holds (the nav may hide some).
window.__huoli = { pages: pages.map((p) => ({ id: p.id, domain: p.domain, nav: p.nav !== false && !p.public })) };
createApp(App).use(i18n).use(ElementPlus).mount("#app");

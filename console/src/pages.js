// Every page the console has: each domain's src/huoli/<domain>/console/index.js lists its pages, and its
// i18n.json holds its strings. Adding a page is a change in that one folder (see docs/console.md).
// @domains is src/huoli (console/vite.config.mjs).
const defs = import.meta.glob("@domains/*/console/index.js", { eager: true });
// i18n.json and any <name>.i18n.json (a page's own strings) merge into the domain's dictionary.
const dicts = import.meta.glob(["@domains/*/console/i18n.json", "@domains/*/console/*.i18n.json"],
  { eager: true, import: "default" });

const domainOf = (path) => path.split("/").at(-3);
const ID = /^[a-z0-9][a-z0-9_-]*$/;

export const messages = {};
for (const [path, dict] of Object.entries(dicts).sort(([a], [b]) => a.localeCompare(b))) {
  const domain = domainOf(path);
  const into = (messages[domain] ??= { zh: {}, en: {} });
  for (const lang of ["zh", "en"]) Object.assign(into[lang], dict?.[lang] || {});
}

export const problems = [];

function collect() {
  const pages = [];
  const seen = new Set();
  for (const [path, mod] of Object.entries(defs)) {
    const domain = domainOf(path);
    const list = Array.isArray(mod.default) ? mod.default : [];
    if (!list.length) problems.push(`${domain}/console/index.js: default export is not a list of pages`);
    for (const p of list) {
      if (!p || !ID.test(p.id || "") || typeof p.component !== "function" || !p.title) {
        problems.push(`${domain}/console/index.js: a page needs id, title and component`);
        continue;
      }
      if (seen.has(p.id)) {
        problems.push(`${domain}/console/index.js: duplicate page id "${p.id}"`);
        continue;
      }
      seen.add(p.id);
      pages.push({ ...p, domain });
    }
  }
  return pages.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.id.localeCompare(b.id));
}

export const pages = collect();

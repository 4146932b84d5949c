// What the console keeps in localStorage: the keys (one per app), the current app, the language.
// Keys never go anywhere else (no cookies, no URL).

const KEYS = "huoli.console.keys";
const CURRENT = "huoli.console.app";
const LANG = "huoli.console.lang";

function read(name, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(name));
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

export function savedKeys() {
  const list = read(KEYS, []);
  return Array.isArray(list) ? list.filter((k) => k && typeof k.key === "string" && typeof k.appId === "string") : [];
}

export function saveKey(appId, appName, key) {
  const list = savedKeys().filter((k) => k.appId !== appId);
  list.push({ appId, appName, key });
  list.sort((a, b) => a.appId.localeCompare(b.appId));
  localStorage.setItem(KEYS, JSON.stringify(list));
  localStorage.setItem(CURRENT, JSON.stringify(appId));
}

export function forgetKey(appId) {
  localStorage.setItem(KEYS, JSON.stringify(savedKeys().filter((k) => k.appId !== appId)));
  if (read(CURRENT, null) === appId) localStorage.removeItem(CURRENT);
}

export function currentKey() {
  const list = savedKeys();
  const id = read(CURRENT, null);
  return list.find((k) => k.appId === id) || list[0] || null;
}

export function setCurrent(appId) {
  localStorage.setItem(CURRENT, JSON.stringify(appId));
}

export function savedLang() {
  const v = read(LANG, "zh");
  return v === "en" ? "en" : "zh";
}

export function saveLang(lang) {
  localStorage.setItem(LANG, JSON.stringify(lang));
}

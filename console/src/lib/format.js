// How numbers, money, rates, durations and times read in the console, in the operator's language and the
// app's timezone. Money is integer fen in the API and 元 on screen.

const locale = (lang) => (lang === "en" ? "en-US" : "zh-CN");

export function number(n, lang, digits) {
  if (n == null || n === "" || Number.isNaN(Number(n))) return "";
  const opts = digits == null ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(locale(lang), opts).format(Number(n));
}

// 123456 fen → "¥1,234.56"
export function money(fen, lang) {
  if (fen == null || fen === "") return "";
  const yuan = Number(fen) / 100;
  return `${yuan < 0 ? "-" : ""}¥${number(Math.abs(yuan), lang, 2)}`;
}

// "12.30" (元, as typed) → 1230 fen; null when it is not an amount with at most two decimals.
export function parseYuan(text) {
  const s = String(text ?? "").trim().replace(/[,，\s¥￥元]/g, "");
  if (!/^-?\d+(\.\d{1,2})?$/.test(s)) return null;
  const [whole, frac = ""] = s.replace("-", "").split(".");
  const fen = Number(whole) * 100 + Number((frac + "00").slice(0, 2));
  return s.startsWith("-") ? -fen : fen;
}

export function yuanText(fen) {
  if (fen == null || fen === "") return "";
  const v = Math.abs(Number(fen));
  return `${Number(fen) < 0 ? "-" : ""}${Math.floor(v / 100)}.${String(v % 100).padStart(2, "0")}`;
}

// 0.1234 → "12.3%"
export function percent(rate, lang, digits = 1) {
  if (rate == null || rate === "" || Number.isNaN(Number(rate))) return "";
  return `${number(Number(rate) * 100, lang, digits)}%`;
}

// Seconds → "45 秒" / "2 分 5 秒" / "1 小时 3 分" (en: 45 s / 2 min 5 s / 1 h 3 min)
export function duration(seconds, lang) {
  if (seconds == null || seconds === "" || Number.isNaN(Number(seconds))) return "";
  const zh = lang !== "en";
  const s = Math.round(Number(seconds));
  const u = zh ? { d: " 天", h: " 小时", m: " 分钟", s: " 秒" } : { d: " d", h: " h", m: " min", s: " s" };
  if (s < 60) return `${s}${u.s}`;
  if (s < 3600) return `${Math.floor(s / 60)}${u.m}${s % 60 ? ` ${s % 60}${u.s}` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)}${u.h}${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}${u.m}` : ""}`;
  return `${Math.floor(s / 86400)}${u.d}${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)}${u.h}` : ""}`;
}

function parts(value, tz) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const out = {};
  const opts = { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit" };
  for (const p of new Intl.DateTimeFormat("en-US", opts).formatToParts(d)) out[p.type] = p.value;
  return out;
}

// An instant shown as "2026-12-07 10:00:00" in the app's timezone.
export function datetime(value, tz, { seconds = true } = {}) {
  if (value == null || value === "") return "";
  const p = parts(value, tz);
  if (!p) return String(value);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
}

export function date(value, tz) {
  if (value == null || value === "") return "";
  if (/^\d{4}-\d{2}-\d{2}$/.test(String(value))) return String(value);
  const p = parts(value, tz);
  return p ? `${p.year}-${p.month}-${p.day}` : String(value);
}

// The offset of `tz` at the wall-clock time given ("+08:00"), found by formatting a probe instant.
export function offsetAt(wall, tz) {
  const [d, t = "00:00:00"] = wall.split(/[ T]/);
  const [y, mo, da] = d.split("-").map(Number);
  const [h, mi, se = 0] = t.split(":").map(Number);
  const asUtc = Date.UTC(y, mo - 1, da, h, mi, se);
  let guess = asUtc;
  for (let i = 0; i < 2; i += 1) {
    const p = parts(new Date(guess), tz);
    const shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    guess = asUtc - (shown - guess);
  }
  const minutes = Math.round((asUtc - guess) / 60000);
  const sign = minutes < 0 ? "-" : "+";
  const a = Math.abs(minutes);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

// "2026-12-07 10:00:00" read as a wall-clock time in the app's timezone → ISO 8601 with that offset.
export function wallToIso(wall, tz) {
  if (!wall) return null;
  const [d, t = "00:00:00"] = String(wall).split(/[ T]/);
  const time = t.length === 5 ? `${t}:00` : t;
  return `${d}T${time}${offsetAt(`${d} ${time}`, tz)}`;
}

// An instant → "2026-12-07 10:00:00" in the app's timezone (what the pickers hold).
export function isoToWall(value, tz) {
  return value ? datetime(value, tz) : "";
}

export function makeFormat(lang, tz) {
  return {
    number: (n, digits) => number(n, lang, digits),
    money: (fen) => money(fen, lang),
    percent: (r, digits) => percent(r, lang, digits),
    duration: (s) => duration(s, lang),
    datetime: (v, opts) => datetime(v, tz, opts),
    date: (v) => date(v, tz),
  };
}

// Date ranges as local calendar days of the app's timezone; the API gets instants with explicit offsets.

export const PRESETS = [7, 30, 90];
export const MAX_DAYS = 366;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isDate(s) {
  if (typeof s !== "string" || !DATE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export function addDays(date, n) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function daysBetween(start, end) {
  return Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86400000);
}

export function today(tz, now = new Date()) {
  // en-CA formats as YYYY-MM-DD
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(now);
}

function offsetMinutes(ms, tz) {
  const parts = {};
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  for (const p of fmt.formatToParts(new Date(ms))) parts[p.type] = p.value;
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

function formatOffset(minutes) {
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

// 00:00 of a local date in tz as ISO 8601 with that moment's offset (DST-correct: offset re-checked once).
export function midnight(date, tz) {
  const [y, m, d] = date.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d);
  let off = offsetMinutes(guess, tz);
  const again = offsetMinutes(guess - off * 60000, tz);
  if (again !== off) off = again;
  return `${date}T00:00:00${formatOffset(off)}`;
}

export function dayList(start, end) {
  const out = [];
  for (let d = start; d <= end; d = addDays(d, 1)) out.push(d);
  return out;
}

// The full range object pages get as ctx.range. start/end are inclusive local dates.
export function makeRange(start, end, tz, compare) {
  const days = daysBetween(start, end) + 1;
  const prevEnd = addDays(start, -1);
  const prevStart = addDays(prevEnd, -(days - 1));
  const span = (s, e) => ({ start: s, end: e, startIso: midnight(s, tz), endIso: midnight(addDays(e, 1), tz) });
  return Object.freeze({
    ...span(start, end),
    tz,
    compare: !!compare,
    days,
    dates: dayList(start, end),
    previous: Object.freeze({ ...span(prevStart, prevEnd), dates: dayList(prevStart, prevEnd) }),
    // One local day as API bounds: {startIso, endIso (exclusive)}.
    day: (date) => ({ startIso: midnight(date, tz), endIso: midnight(addDays(date, 1), tz) }),
  });
}

export function presetRange(days, tz, compare, now = new Date()) {
  const end = today(tz, now);
  return makeRange(addDays(end, -(days - 1)), end, tz, compare);
}

// Range from hash params, or null when they are missing or invalid (the caller keeps its current one).
export function rangeFromParams(params, tz) {
  const start = params.get("start");
  const end = params.get("end");
  if (!isDate(start) || !isDate(end) || start > end || daysBetween(start, end) + 1 > MAX_DAYS) return null;
  return makeRange(start, end, tz, params.get("compare") === "1");
}

export function rangeParams(range) {
  const out = { start: range.start, end: range.end };
  if (range.compare) out.compare = "1";
  return out;
}

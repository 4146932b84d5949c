// Date-range math of the console shell (src/huoli/console/static/lib/range.js), run by node --test.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

// Loaded as a data: URL so node treats the browser module as ESM whatever its version (no package.json here).
const source = readFileSync(new URL("../../../console/src/lib/range.js", import.meta.url), "utf8");
const {
  addDays, isDate, makeRange, midnight, presetRange, rangeFromParams, rangeParams, today,
} = await import(`data:text/javascript,${encodeURIComponent(source)}`);

test("midnight carries the zone's offset for that date", () => {
  assert.equal(midnight("2026-11-22", "Asia/Shanghai"), "2026-11-22T00:00:00+08:00");
  assert.equal(midnight("2026-11-22", "UTC"), "2026-11-22T00:00:00+00:00");
  assert.equal(midnight("2026-07-01", "America/New_York"), "2026-07-01T00:00:00-04:00");
  assert.equal(midnight("2026-12-01", "America/New_York"), "2026-12-01T00:00:00-05:00");
  assert.equal(midnight("2026-03-29", "Europe/London"), "2026-03-29T00:00:00+00:00"); // DST starts at 01:00
  assert.equal(midnight("2026-03-30", "Europe/London"), "2026-03-30T00:00:00+01:00");
  assert.equal(midnight("2026-06-01", "Asia/Kolkata"), "2026-06-01T00:00:00+05:30");
});

test("a range's API bounds are local midnights, end exclusive, DST day included", () => {
  const r = makeRange("2026-03-07", "2026-03-08", "America/New_York", false);
  assert.equal(r.days, 2);
  assert.deepEqual(r.dates, ["2026-03-07", "2026-03-08"]);
  assert.equal(r.startIso, "2026-03-07T00:00:00-05:00");
  assert.equal(r.endIso, "2026-03-09T00:00:00-04:00"); // 2026-03-08 is the 23-hour day
  assert.deepEqual(r.day("2026-03-08"), { startIso: "2026-03-08T00:00:00-05:00", endIso: "2026-03-09T00:00:00-04:00" });
});

test("the previous period is as long and ends the day before", () => {
  const r = makeRange("2026-11-16", "2026-11-22", "Asia/Shanghai", true);
  assert.equal(r.previous.start, "2026-11-09");
  assert.equal(r.previous.end, "2026-11-15");
  assert.equal(r.previous.dates.length, 7);
  assert.equal(r.previous.endIso, r.startIso);
  const one = makeRange("2026-03-01", "2026-03-01", "UTC", true);
  assert.equal(one.previous.start, "2026-02-28");
  assert.equal(one.previous.end, "2026-02-28");
});

test("presets end today in the app's zone", () => {
  // 2026-11-21 17:30 UTC is already 2026-11-22 01:30 in Shanghai
  const now = new Date("2026-11-21T17:30:00Z");
  assert.equal(today("Asia/Shanghai", now), "2026-11-22");
  assert.equal(today("UTC", now), "2026-11-21");
  const r = presetRange(30, "Asia/Shanghai", false, now);
  assert.equal(r.end, "2026-11-22");
  assert.equal(r.start, "2026-10-24");
  assert.equal(r.days, 30);
});

test("hash params: valid ranges round-trip, anything else is refused", () => {
  const p = (q) => rangeFromParams(new URLSearchParams(q), "Asia/Shanghai");
  const r = p("start=2026-11-01&end=2026-11-21&compare=1");
  assert.equal(r.days, 21);
  assert.equal(r.compare, true);
  assert.deepEqual(rangeParams(r), { start: "2026-11-01", end: "2026-11-21", compare: "1" });
  assert.deepEqual(rangeParams(p("start=2026-11-01&end=2026-11-01")), { start: "2026-11-01", end: "2026-11-01" });
  for (const bad of ["", "start=2026-11-02&end=2026-11-01", "start=2026-02-30&end=2026-03-01",
    "start=2026-1-1&end=2026-01-02", "start=2025-01-01&end=2026-01-02", "start=x&end=y"]) {
    assert.equal(p(bad), null, bad);
  }
  assert.equal(isDate("2024-02-29"), true);
  assert.equal(isDate("2026-02-29"), false);
  assert.equal(addDays("2026-12-31", 1), "2027-01-01");
});

"""Issue 23's "done when": from a fresh data dir, the demo, then every console page in zh and en in Chromium.

The demo is built with the CLI as a user would (`huoli demo run --no-serve`, a small history so this stays
fast), served by a real `huoli serve` process, and signed into with the demo owner key from var/demo/keys.json.
The pages come from the shell's own registry (the pages the build holds, `window.__huoli.pages`, and the nav it
shows), never from a list here. On each page, in each language, the walk waits for the page to settle and then
fails on:
- a browser console error or warning, an uncaught page error, a failed request, an API answer of 4xx/5xx;
- an error shown in the page (`.page-error`, `.form-error`, a banner);
- a first screen (the viewport, 1280×860) without data: an empty state (`tr.empty`, `.empty`, "no chart"),
  a KPI row whose every value is zero or a dash, a chart with no non-zero point, or none of: a table row,
  a chart with data, a non-zero KPI, a filled fact (`.facts dd`) — unless the page is on EMPTY_OK below;
- untranslated text in the page's own words (headings, labels, buttons, tags, selected options, messages; data
  cells are not checked): in English, Chinese; in Chinese, an English identifier (`running`, `first_touch`) or
  an English sentence (three or more English words), other than the product terms in ENGLISH_OK.
Screenshots (full page) go to var/test-artifacts/console/demo-walk/<lang>-<nn>-<page>.png.
`test_the_walk_catches_broken_pages` builds pages made to fail into a console of their own and walks them, so
the walk can fail.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser.fixtures import ARTIFACTS, build_console, serve_live

pytestmark = pytest.mark.slow

SHOTS = ARTIFACTS / "demo-walk"
VIEWPORT = {"width": 1280, "height": 860}
# Pages whose first screen is legitimately without data, each with why. Everything else must show data.
EMPTY_OK: dict[str, str] = {
    "app-new": "a create form: nothing exists until the operator fills it in",
    "loyalty-rules": "the rules editor: its inputs hold the app's current rules, which are the data here",
}
# Found by the walk and reported to the owner of the file that must change (page, problem) -> what must
# change. Strict: once a problem is gone the walk fails until its entry is removed, so this list cannot go stale.
PENDING: dict[tuple[str, str], str] = {}
# A page has settled when no request has been in flight for this long (the overview polls every 3 s).
QUIET_MS = 400
# ECharts animates after drawing; the screenshot waits until every chart is still, at most this long.
ANIMATION_MS = 2000

# Runs in the page: what the first screen shows. Returns JSON-able facts; the rules are applied in Python.
FIRST_SCREEN_JS = r"""
(englishOk) => {
  const vh = window.innerHeight;
  const shown = (el) => {
    if (el.closest('[hidden]')) return false;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const onFirst = (el) => {
    if (!shown(el)) return false;
    const r = el.getBoundingClientRect();
    return r.top < vh && r.bottom > 0;
  };
  const text = (el) => (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 160);
  const root = document.getElementById('page-root');
  const all = (sel) => [...document.querySelectorAll(sel)];
  const within = (sel) => root ? [...root.querySelectorAll(sel)] : [];
  const errors = [...all('.banner-error, #module-errors'), ...within('.page-error, .form-error')]
    .filter(shown).map(text);
  const empties = within('tr.empty, .empty, .chart-missing').filter(onFirst).map(text);
  const kpiRows = within('.kpis, .stat-cards').filter(onFirst)
    .map((row) => [...row.querySelectorAll('.kpi .value, .stat-card .stat-value')].map(text));
  const rows = within('tbody tr:not(.empty)').filter(onFirst).length;
  const facts = within('.facts dd').filter(onFirst).filter((el) => text(el) !== '').length;
  // A chart has data when one of its series has a non-zero number (sankey/graph: any link).
  const numbers = (d) => {
    if (d == null) return [];
    if (typeof d === 'number') return [d];
    if (typeof d === 'string') return Number.isFinite(Number(d)) && d !== '' ? [Number(d)] : [];
    if (Array.isArray(d)) return d.length ? numbers(d[d.length - 1]) : [];
    if (typeof d === 'object' && 'value' in d) return numbers(d.value);
    return [];
  };
  const charts = [];
  const chartOf = window.__huoli && window.__huoli.chartOf;
  for (const el of within('[_echarts_instance_]').filter(onFirst)) {
    const inst = chartOf && chartOf(el);
    if (!inst) continue;
    const series = inst.getOption().series || [];
    let points = 0;
    for (const s of series) {
      if ((s.links || s.edges || []).length) points += (s.links || s.edges).length;
      for (const d of s.data || []) points += numbers(d).filter((v) => v !== 0).length;
    }
    const box = el.closest('.hchart') || el;
    const label = box.getAttribute('aria-label') || box.id
      || el.closest('.card, .el-card')?.querySelector('h2, h3, .el-card__header')?.innerText || '';
    charts.push({ label: label.trim().slice(0, 60), series: series.length, points });
  }
  // The page's own words (not data). #lang-toggle names the other language on purpose. An English term
  // glossed in Chinese, "group-buy (拼团)", is deliberate: the gloss is not checked.
  const cjk = (s) => /[\u3400-\u9fff]/.test(s.replace(/[(（][\u3400-\u9fff·、，\s]+[)）]/g, ''));
  const own = ['h1, h2, h3, h4, th, label, button, legend, summary, .label, .muted, .hint, p, dt, option',
    '.el-form-item__label, .el-tag, .el-tabs__item, .el-radio__label, .el-checkbox__label, .el-radio-button__inner',
    '.el-select__selected-item:not(.el-select__placeholder), .el-descriptions__label, .el-card__header',
    '.stat-label, .hstate-text, .field-hint, .field-error, .form-error, .el-alert__title, .el-step__title',
    '.el-collapse-item__header, .el-switch__label, .el-table__header .cell'].join(', ');
  const words = within(own)
    .filter(shown).filter((el) => !el.closest('td, code, .mono, .secret, dd, #lang-toggle'))
    .map(text).filter((t) => t !== '');
  const nav = all('#nav, .topbar .brand, #range, #sign-out').filter(shown).map(text);
  // In Chinese: a bare identifier (running, first_touch) or an English sentence, once the product's own
  // English terms (API, SDK, AppID, …) are taken out.
  const okRe = new RegExp(`\\b(${englishOk.map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})\\b`, 'gi');
  const english = (t) => {
    if (cjk(t)) return false;
    const rest = t.replace(okRe, ' ').replace(/[0-9.,:;%¥$+\-–—/()（）[\]{}<>=#@&*_'"“”‘’!?…·×|~]+/g, ' ').trim();
    if (/^[a-z]+(_[a-z0-9]+)+$/.test(t.trim())) return true;
    const tokens = rest.split(/\s+/).filter((w) => /^[A-Za-z]{2,}$/.test(w));
    return tokens.length >= 3 || (tokens.length >= 1 && /^[a-z]{3,}$/.test(rest));
  };
  return {
    errors, empties, kpiRows, rows, facts, charts,
    cjkWords: [...nav.filter(cjk), ...words.filter(cjk)].slice(0, 8),
    englishWords: [...nav.filter(english), ...words.filter(english)].slice(0, 8),
  };
}
"""

# Product and technical terms that stay English in the Chinese UI (names, abbreviations, formats).
ENGLISH_OK = [
    "huoli",
    "API",
    "SDK",
    "CSV",
    "JSON",
    "PEM",
    "AppID",
    "AppSecret",
    "ID",
    "IP",
    "URL",
    "TOTP",
    "HMAC",
    "UTC",
    "Asia/Shanghai",
    "DAU",
    "WAU",
    "MAU",
    "GMV",
    "UV",
    "PV",
    "KPI",
    "K",
    "ECharts",
    "WeChat",
    "Pay",
    "hlk",
    "hls",
    "hli",
    "hlr",
    "openid",
    "unionid",
    "SMS",
    "APIv3",
    "mch_id",
    "Chromium",
    "make",
    "install",
    "ms",
    "s",
    "min",
    "h",
    "p",
    "CI",
    "A/B",
    "AA",
    "SRM",
    "CUPED",
    "Bayesian",
    "UA",
    "OK",
]


PHONE = {"width": 390, "height": 844}
# At phone width: is the page wider than the screen? Names the outermost element sticking out (not one inside
# a box that scrolls or clips on its own, such as a table).
OVERFLOW_JS = r"""
() => {
  const w = window.innerWidth;
  const over = document.documentElement.scrollWidth - w;
  if (over <= 1) return null;
  const clips = (el) => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right <= w + 1 || r.width === 0) continue;
    let p = el.parentElement, inside = false;
    while (p && p !== document.body) { if (clips(p)) { inside = true; break; } p = p.parentElement; }
    if (inside) continue;
    const cls = typeof el.className === 'string' ? el.className.trim().split(/\s+/).slice(0, 2).join('.') : '';
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (cls ? '.' + cls : '');
    return `${document.documentElement.scrollWidth} px wide; first sticking out: ${name}`;
  }
  return `${document.documentElement.scrollWidth} px wide`;
}
"""


# True once no chart on the page is animating (zrender's own clock), so screenshots show the drawn charts.
STILL_JS = r"""
() => {
  const chartOf = window.__huoli && window.__huoli.chartOf;
  if (!chartOf) return true;
  return [...document.querySelectorAll('#page-root [_echarts_instance_]')]
    .map((el) => chartOf(el)).every((i) => !i || i.getZr().animation.isFinished());
}
"""


@dataclass
class Walk:
    """Problems found, per page and language, plus the screenshots taken."""

    problems: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")


class Watcher:
    """What the browser reports while a page is open: console errors, page errors, failed requests."""

    def __init__(self, page: Any) -> None:
        self.events: list[str] = []
        self.inflight: set[Any] = set()
        self.last_activity = time.monotonic()
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.events.append(f"uncaught error: {e}"))
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, m: Any) -> None:
        # Chromium logs each 4xx/5xx answer as an error too: _response reports those with the URL.
        if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource"):
            self.events.append(f"console.{m.type}: {m.text[:300]}")

    def _start(self, r: Any) -> None:
        self.inflight.add(r)
        self.last_activity = time.monotonic()

    def _end(self, r: Any) -> None:
        self.inflight.discard(r)
        self.last_activity = time.monotonic()

    def _failed(self, r: Any) -> None:
        self._end(r)
        self.events.append(f"request failed: {r.method} {r.url} ({r.failure})")

    def _response(self, r: Any) -> None:
        if r.status >= 400:
            self.events.append(f"HTTP {r.status}: {r.request.method} {r.url}")

    def take(self) -> list[str]:
        out, self.events = self.events, []
        return out

    def settle(self, page: Any, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while self.inflight or (time.monotonic() - self.last_activity) * 1000 < QUIET_MS:
            if time.monotonic() > deadline:
                pending = ", ".join(r.url for r in self.inflight)
                raise AssertionError(f"page never settled; in flight: {pending}")
            page.wait_for_timeout(100)


def judge(page_id: str, lang: str, seen: dict[str, Any], empty_ok: dict[str, str]) -> list[str]:
    """The first-screen rules (see the module docstring); returns what is wrong."""
    wrong = [f"error shown: {e}" for e in seen["errors"]]
    if lang == "en" and seen["cjkWords"]:
        wrong.append(f"Chinese in the English page: {seen['cjkWords']}")
    if lang == "zh" and seen["englishWords"]:
        wrong.append(f"untranslated English in the Chinese page: {seen['englishWords']}")
    if page_id in empty_ok:
        return wrong
    wrong += [f"empty state on the first screen: {e!r}" for e in seen["empties"]]
    for values in seen["kpiRows"]:
        if values and not any(re.search(r"[1-9]", v) for v in values):
            wrong.append(f"a KPI row with nothing but zeros: {values}")
    for c in seen["charts"]:
        if c["points"] == 0:
            wrong.append(f"a chart without data on the first screen: {c['label'] or '(unlabelled)'}")
    has_kpi = any(re.search(r"[1-9]", v) for row in seen["kpiRows"] for v in row)
    if not (seen["rows"] or seen["facts"] or has_kpi or any(c["points"] for c in seen["charts"])):
        wrong.append("no data on the first screen (no table row, chart with data, non-zero KPI or fact)")
    return wrong


def sign_in(page: Any, url: str, key: str) -> None:
    page.goto(f"{url}/console/")
    page.locator("#signin-key").fill(key)
    page.locator("#signin button[type=submit]").click()
    page.locator("#app-name").wait_for()
    page.locator("#page-root[data-state=ready]").wait_for()


def walk_console(
    browser: Any,
    url: str,
    key: str,
    *,
    shots: Path,
    empty_ok: dict[str, str],
    langs: tuple[str, ...] = ("zh", "en"),
    only: Callable[[str], bool] = lambda _id: True,
    prepare: Callable[[Any], None] | None = None,
    phone: bool = True,
    docs: Path | None = None,
) -> Walk:
    """Sign in, then open every page of the shell's nav in each language; returns the problems found."""
    walk = Walk()
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        if prepare:
            prepare(page)
        watch = Watcher(page)
        sign_in(page, url, key)
        for e in watch.take():
            walk.add("sign-in", e)
        built = page.evaluate("window.__huoli.pages")
        # The registry is what the build holds: a page the shell refused is in the banner, not the nav.
        nav_ids = page.locator(".nav-side a[data-page]").evaluate_all(
            "(els) => els.map((a) => a.dataset.page)"
        )
        listed = [p["id"] for p in built if p["nav"]]
        if sorted(nav_ids) != sorted(listed):
            walk.add("registry", f"the build lists {listed} but the nav shows {nav_ids}")
        walk.pages = [p for p in nav_ids if only(p)]
        for lang in langs:
            if page.locator("html").get_attribute("lang") != ("zh-CN" if lang == "zh" else "en"):
                page.locator("#lang-toggle").click()
                page.locator("#page-root[data-state=ready]").wait_for()
                watch.settle(page)
                for e in watch.take():
                    walk.add(f"{lang} language switch", e)
            for n, page_id in enumerate(walk.pages, 1):
                where = f"{page_id} [{lang}]"
                page.locator(f".nav-side a[data-page='{page_id}']").click()
                page.locator(f"#page-root[data-page='{page_id}'][data-state=ready]").wait_for()
                watch.settle(page)
                page.evaluate("window.scrollTo(0, 0)")
                seen = page.evaluate(FIRST_SCREEN_JS, ENGLISH_OK)
                still_by = time.monotonic() + ANIMATION_MS / 1000
                while not page.evaluate(STILL_JS) and time.monotonic() < still_by:
                    page.wait_for_timeout(100)
                path = shots / f"{lang}-{n:02d}-{page_id}.png"
                page.screenshot(path=str(path), full_page=True)
                if docs is not None and lang == "zh":
                    # docs/console.md's picture of the page: its first screen, small enough to keep in git
                    page.screenshot(path=str(docs / f"{page_id}-{lang}.jpg"), type="jpeg", quality=60)
                walk.shots.append(path)
                for e in watch.take():
                    walk.add(where, e)
                for w in judge(page_id, lang, seen, empty_ok):
                    walk.add(where, f"{w}  [{path.name}]")
        if phone:
            # Operators check numbers on the go: every page at 390 px, in Chinese, must fit the screen.
            page.set_viewport_size(PHONE)
            if page.locator("html").get_attribute("lang") != "zh-CN":
                page.locator("#lang-toggle").click()
            for n, page_id in enumerate(walk.pages, 1):
                page.evaluate(f"location.hash = '#/{page_id}'")
                page.locator(f"#page-root[data-page='{page_id}'][data-state=ready]").wait_for()
                watch.settle(page)
                path = shots / f"phone-{n:02d}-{page_id}.png"
                page.screenshot(path=str(path), full_page=True)
                walk.shots.append(path)
                wide = page.evaluate(OVERFLOW_JS)
                if wide:
                    walk.add(f"{page_id} [phone]", f"wider than a 390 px screen: {wide}  [{path.name}]")
                for e in watch.take():
                    walk.add(f"{page_id} [phone]", e)
    finally:
        context.close()
    return walk


# ---- the demo, as a user builds and serves it -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("demo-walk") / "var"
    env = {**os.environ, "HUOLI_DATA_DIR": str(data), "COLUMNS": "200"}
    cli = [sys.executable, "-m", "huoli.cli"]
    # 2,000 users × 30 days (~220 k events) builds in ~20 s and still fills every chart.
    r = subprocess.run(
        [*cli, "demo", "run", "--no-serve", "--users", "2000", "--days", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    keys = json.loads((data / "demo" / "keys.json").read_text())
    port = _free_port()
    log = data / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield Demo(url=url, keys=keys)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.timeout(280)
def test_every_console_page_shows_the_demo(browser: Any, demo: Demo) -> None:
    # HUOLI_DOCS_SHOTS=docs/console refreshes the screenshots docs/console.md shows (make docs-shots)
    docs = Path(os.environ["HUOLI_DOCS_SHOTS"]) if os.environ.get("HUOLI_DOCS_SHOTS") else None
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
    walk = walk_console(browser, demo.url, demo.keys["owner"], shots=SHOTS, empty_ok=EMPTY_OK, docs=docs)
    assert len(walk.pages) >= 10, f"the nav listed only {walk.pages}"
    assert len(walk.shots) == 3 * len(walk.pages)

    def pending(problem: str) -> bool:
        return any(problem.startswith(f"{page_id} [") and what in problem for page_id, what in PENDING)

    for problem in filter(pending, walk.problems):
        warnings.warn(f"demo walk, reported and pending: {problem}", stacklevel=1)
    fixed = [k for k in PENDING if not any(p.startswith(f"{k[0]} [") and k[1] in p for p in walk.problems)]
    assert not fixed, f"fixed: remove these from PENDING: {fixed}"
    problems = [p for p in walk.problems if not pending(p)]
    assert not problems, f"{len(problems)} problems (screenshots in {SHOTS}):\n" + "\n".join(problems)


# ---- the walk can fail ----------------------------------------------------------------------------------

# Each probe page breaks one rule. They are built, with the shell, into a console of their own (Vite with
# HUOLI_CONSOLE_DOMAINS pointing at a folder holding only them) and served by a live server reading that build.
PROBES = {
    "walk-probe-error": """
<script setup>
import { HTable } from "@console/blocks.js";
console.error("probe: something broke");
</script>
<template><HTable :columns="[{ key: 'a', title: 'A' }]" :rows="[{ a: '1' }]" /></template>""",
    "walk-probe-empty": """
<script setup>
import { HTable, StatCards, useConsole } from "@console/blocks.js";
const { t } = useConsole();
</script>
<template>
  <StatCards :items="[{ label: t({ zh: '用户', en: 'Users' }), value: '0' }]" />
  <HTable :columns="[{ key: 'a', title: 'A' }]" :rows="[]" />
</template>""",
    "walk-probe-404": """
<script setup>
import { HTable, useConsole, useLoad } from "@console/blocks.js";
const ctx = useConsole();
useLoad(() => ctx.api("/admin/walk-probe-missing").catch(() => null), { range: false });
</script>
<template><HTable :columns="[{ key: 'a', title: 'A' }]" :rows="[{ a: '1' }]" /></template>""",
    "walk-probe-chart": """
<script setup>
import { HChart } from "@console/blocks.js";
const option = { xAxis: { type: "category", data: ["a", "b"] }, yAxis: {}, series: [{ type: "bar", data: [0, 0] }] };
</script>
<template><HChart id="probe-chart" :option="option" /></template>""",
    "walk-probe-english": """
<script setup>
import { HTable } from "@console/blocks.js";
</script>
<template><h2>只有中文</h2><HTable :columns="[{ key: 'a', title: 'A' }]" :rows="[{ a: '1' }]" /></template>""",
    "walk-probe-enum": """
<script setup>
import { HTable } from "@console/blocks.js";
</script>
<template>
  <el-tag>first_touch</el-tag>
  <p>Keep running until enough users arrive</p>
  <HTable :columns="[{ key: 'a', title: 'A' }]" :rows="[{ a: '1' }]" />
</template>""",
    "walk-probe-wide": """
<script setup>
import { HTable } from "@console/blocks.js";
</script>
<template>
  <div style="width: 900px">{{ "…" }}</div>
  <HTable :columns="[{ key: 'a', title: 'A' }]" :rows="[{ a: '1' }]" />
</template>""",
    "walk-probe-fine": """
<script setup>
import { HChart, useConsole } from "@console/blocks.js";
const { t } = useConsole();
const option = { xAxis: { type: "category", data: ["a", "b"] }, yAxis: {}, series: [{ type: "bar", data: [3, 4] }] };
</script>
<template><h2>{{ t({ zh: "很好", en: "Fine" }) }}</h2><el-tag>API</el-tag><HChart :option="option" /></template>""",
}


@pytest.fixture
def probe_dist(tmp_path: Path) -> Path:
    pages = {page_id: (f"探针 {page_id[11:]}", page_id, sfc) for page_id, sfc in PROBES.items()}
    return build_console(tmp_path, pages)


def test_the_walk_catches_broken_pages(browser: Any, probe_dist: Path, tmp_path: Path) -> None:
    with serve_live(tmp_path / "server", console_dist=probe_dist) as live_server:
        keys = live_server.make_app("shop", "小店")
        walk = walk_console(
            browser,
            live_server.url,
            keys["owner"],
            shots=ARTIFACTS / "demo-walk-probes",
            empty_ok={},
            only=lambda p: p.startswith("walk-probe"),
        )
    found = "\n".join(walk.problems)
    assert sorted(walk.pages) == sorted(PROBES), walk.pages

    def about(page_id: str, lang: str = "zh") -> str:
        return "\n".join(p for p in walk.problems if p.startswith(f"{page_id} [{lang}]"))

    assert "console.error: probe: something broke" in about("walk-probe-error"), found
    assert "empty state on the first screen" in about("walk-probe-empty"), found
    assert "a KPI row with nothing but zeros" in about("walk-probe-empty"), found
    assert "no data on the first screen" in about("walk-probe-empty"), found
    # the first page is also where sign-in lands, so its first 404 counts there; the English pass opens it again
    assert "HTTP 404: GET" in about("walk-probe-404", "en"), found
    assert "a chart without data" in about("walk-probe-chart"), found
    assert "Chinese in the English page" in about("walk-probe-english", "en"), found
    assert "Chinese" not in about("walk-probe-english", "zh"), found
    enum = about("walk-probe-enum")
    assert "untranslated English in the Chinese page" in enum and "first_touch" in enum, found
    assert "Keep running until enough users arrive" in enum, found
    assert "wider than a 390 px screen" in about("walk-probe-wide", "phone"), found
    assert (
        about("walk-probe-fine") == about("walk-probe-fine", "en") == about("walk-probe-fine", "phone") == ""
    ), found

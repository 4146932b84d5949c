"""Console: time until the overview and the dashboard are drawn in real Chromium on the demo data.

    python bench/console.py [--users 20000] [--days 30] [--repeat 3] [--data-dir DIR] [--no-write]

Workload: `huoli demo run --no-serve` history in a data dir (made once, reused; `make demo` loads the same
defaults), `huoli serve` on a free port — restarted for every repeat, so the first dashboard view of each
repeat finds no cached figure —, headless Debian Chromium signs in with the demo owner key. Measured per
view, median of --repeat: sign-in click → overview figures drawn (7 days), preset 30 / 90 days,
compare-to-previous on 30 days, the Events page; then the dashboard: nav click → every chart drawn (7 days,
cold), a full page load of its URL (shell, modules, ECharts, figures; now cached), preset 30 days (cold),
compare on 30 days (only the previous period is computed), back to 7 days (cached). For each dashboard view
the page's own `performance.measure` split says how much was the request (server + transfer) and how much
drawing. Target: every view interactive in under 2 s (issue 4's bar for the console).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_section

TARGET_S = 2.0
ASSETS_TARGET = 1_000_000  # bytes, gzipped, the console's own files on a first load (issue 22)
COMPARE = "label.el-checkbox:has(#range-compare)"
CHROMIUM = os.environ.get("HUOLI_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "huoli.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("huoli serve did not start")


def _dashboard_split(page: Any, responses: list[Any]) -> tuple[float, float, float]:
    """(request s, draw s, server s) of the dashboard's last load: its performance marks and response."""
    req, draw = page.evaluate(
        """() => ['dashboard:request', 'dashboard:draw'].map(
            (n) => (performance.getEntriesByName(n, 'measure').at(-1)?.duration ?? 0) / 1000)"""
    )
    server = responses[-1].json()["elapsed_ms"] / 1000 if responses else 0.0
    return float(req), float(draw), float(server)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: the server's work, whatever else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    base: str,
    key: str,
    views: dict[str, list[float]],
    splits: dict[str, list[tuple[float, ...]]],
    server_pid: int,
) -> None:
    from playwright.sync_api import sync_playwright

    dash: list[Any] = []  # the dashboard's responses, for the server's own time
    console_files: list[Any] = []  # every /console/ response of the first load (shell, assets)

    def timed(page: Any, name: str, click: str, done: str, *, check: bool = False) -> None:
        # so the wait below cannot be satisfied by the previous view's figures
        page.evaluate("document.querySelector('#page-body [data-loaded]')?.removeAttribute('data-loaded')")
        cpu0 = _cpu_s(server_pid)
        t0 = time.perf_counter()
        # Element Plus hides a checkbox's input: its label takes the click
        page.locator(f"label.el-checkbox:has({click})" if check else click).click()
        page.locator(done).first.wait_for(timeout=120_000)
        views.setdefault(name, []).append(time.perf_counter() - t0)
        if name.startswith("dashboard"):
            splits.setdefault(name, []).append((*_dashboard_split(page, dash), _cpu_s(server_pid) - cpu0))

    loaded = "#page-body [data-loaded]:not([data-loaded=''])"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 860})
        page = ctx.new_page()
        page.on("response", lambda r: r.url.endswith("/admin/analytics/dashboard") and dash.append(r))
        page.on("response", lambda r: "/console/" in r.url and console_files.append(r))
        page.goto(f"{base}/console/")
        page.locator("#signin-key").fill(key)
        timed(page, "sign-in → overview, 7 days", "#signin button[type=submit]", loaded)
        # what a first visit downloads for the console itself (as sent: gzipped), up to the overview drawn
        weight = sum(r.request.sizes()["responseBodySize"] for r in console_files)
        views.setdefault("first load: console files (bytes, gzipped)", []).append(float(weight))
        for days in (30, 90):
            timed(page, f"preset {days} days", f".preset[data-days='{days}']", loaded)
        page.locator(".preset[data-days='30']").click()
        page.locator(loaded).wait_for(timeout=120_000)
        timed(page, "30 days + compare", "#range-compare", "#page-body [data-loaded$='+compare']", check=True)
        timed(page, "Events page (latest 100)", "#nav a[data-page=events]", "#events-table tbody tr")

        # the dashboard, 7 days, nothing cached (a fresh server)
        page.goto(f"{base}/console/#/overview")
        page.locator(loaded).wait_for(timeout=120_000)
        page.locator(".preset[data-days='7']").click()
        page.locator(loaded).wait_for(timeout=120_000)
        if page.locator("#range-compare").is_checked():
            page.locator(COMPARE).click()
            page.locator(loaded).wait_for(timeout=120_000)
        timed(page, "dashboard: nav click → all charts, 7 days (cold)", "#nav a[data-page=dashboard]", loaded)
        url = page.url
        # a full load of the dashboard's URL: navigation start → every chart drawn
        page.goto("about:blank")
        cpu0 = _cpu_s(server_pid)
        t0 = time.perf_counter()
        page.goto(url)
        page.locator(loaded).wait_for(timeout=120_000)
        views.setdefault("dashboard: page load → all charts, 7 days (cached)", []).append(
            time.perf_counter() - t0
        )
        splits.setdefault("dashboard: page load → all charts, 7 days (cached)", []).append(
            (*_dashboard_split(page, dash), _cpu_s(server_pid) - cpu0)
        )
        timed(page, "dashboard: preset 30 days (cold)", ".preset[data-days='30']", loaded)
        timed(
            page,
            "dashboard: 30 days + compare (previous period cold)",
            "#range-compare",
            "#page-body [data-loaded$='+compare']",
            check=True,
        )
        page.locator(COMPARE).click()
        page.locator(loaded).wait_for(timeout=120_000)
        timed(page, "dashboard: preset 7 days again (cached)", ".preset[data-days='7']", loaded)
        ctx.close()
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=None, help="reuse a demo data dir (default: a temp dir)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "var"
        env = {**os.environ, "HUOLI_DATA_DIR": str(data_dir)}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "huoli.cli",
                "demo",
                "run",
                "--no-serve",
                "--users",
                str(args.users),
                "--days",
                str(args.days),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        key = json.loads((data_dir / "demo" / "keys.json").read_text())["owner"]
        views: dict[str, list[float]] = {}
        splits: dict[str, list[tuple[float, ...]]] = {}
        for _ in range(args.repeat):
            port = _free_port()
            server = _serve(env, port)  # a fresh process: nothing cached
            try:
                measure(f"http://127.0.0.1:{port}", key, views, splits, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=60)

    rows = []
    weights = views.pop("first load: console files (bytes, gzipped)", [])
    for name, times in views.items():
        med = statistics.median(times)
        split = ""
        if name in splits:
            req, draw, server_s, cpu = (statistics.median(x[i] for x in splits[name]) for i in range(4))
            split = f"{req:.2f} s ({server_s:.2f} s server, {cpu:.1f} CPU-s) / {draw:.2f} s"
        rows.append(
            [name, f"{med:.2f} s", f"{max(times):.2f} s", split, "yes" if med < TARGET_S else "**no**"]
        )
    body = [
        f"Demo history: {args.users:,} users × {args.days} days (`huoli demo run`), median of {args.repeat} "
        f"runs in headless Chromium, a fresh server per run. Target: < {TARGET_S:.0f} s per view. Load average "
        f"during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared; the server's "
        "CPU-seconds do not depend on that load).",
        "",
        *markdown_table(
            ["view", "median", "max", "dashboard request (server) / draw", f"< {TARGET_S:.0f} s"], rows
        ),
        "",
        "The overview asks `GET /admin/events/summary` once for the range and once per local day (4 at a time), "
        "so its time grows with the number of days until the analytics API serves daily series. The dashboard "
        "is one `POST /admin/analytics/dashboard`: the parts of seven metrics it draws, run concurrently on "
        "the server and cached per part while the app's event count is unchanged (at most a minute after it "
        "moves; docs/console.md).",
        "",
        f"First load of the console's own files (index.html, the app and Element Plus, the overview's chunk and "
        f"ECharts; gzipped as sent, before the API's answers): {max(weights) / 1e6:.2f} MB "
        f"(target < {ASSETS_TARGET / 1e6:.0f} MB: {'yes' if max(weights) < ASSETS_TARGET else '**no**'}). "
        "Hashed assets are cached for a year, so later visits download only what a release changed.",
    ]
    command = f"python bench/console.py --users {args.users} --days {args.days} --repeat {args.repeat}"
    write_section("console", "Console", command, body, write=not args.no_write)


if __name__ == "__main__":
    main()

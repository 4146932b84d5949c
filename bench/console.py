"""Console: time until the overview is drawn in real Chromium on the demo data (`make demo` history).

    python bench/console.py [--users 20000] [--days 30] [--repeat 3] [--data-dir DIR] [--no-write]

Workload: `huoli demo run --no-serve` history in a data dir (made once, reused), `huoli serve` on a free
port, headless Debian Chromium signs in with the demo owner key. Measured per view, median of --repeat:
sign-in click → overview figures drawn (7 days), preset 30 / 90 days, compare-to-previous on 30 days, the
Events page (latest 100). Target: every view interactive in under 2 s (issue 4's bar for the console).
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


def measure(base: str, key: str, repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    views: dict[str, list[float]] = {}

    def timed(page: Any, name: str, click: str, done: str, *, check: bool = False) -> None:
        # so the wait below cannot be satisfied by the previous view's figures
        page.evaluate("document.querySelector('#page-body')?.removeAttribute('data-loaded')")
        t0 = time.perf_counter()
        target = page.locator(click)
        target.check() if check else target.click()
        page.locator(done).first.wait_for(timeout=120_000)
        views.setdefault(name, []).append(time.perf_counter() - t0)

    loaded = "#page-body[data-loaded]:not([data-loaded=''])"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(repeat):
            ctx = browser.new_context(viewport={"width": 1280, "height": 860})
            page = ctx.new_page()
            page.goto(f"{base}/console/")
            page.locator("#signin-key").fill(key)
            timed(page, "sign-in → overview, 7 days", "#signin button[type=submit]", loaded)
            for days in (30, 90):
                timed(page, f"preset {days} days", f".preset[data-days='{days}']", loaded)
            page.locator(".preset[data-days='30']").click()
            page.locator(loaded).wait_for(timeout=120_000)
            timed(
                page, "30 days + compare", "#range-compare", "#page-body[data-loaded$='+compare']", check=True
            )
            timed(page, "Events page (latest 100)", "#nav a[data-page=events]", "#events-table tbody tr")
            ctx.close()
        browser.close()
    return views


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
        port = _free_port()
        server = _serve(env, port)
        try:
            views = measure(f"http://127.0.0.1:{port}", key, args.repeat)
        finally:
            server.terminate()
            server.wait(timeout=60)

    rows = []
    for name, times in views.items():
        med = statistics.median(times)
        rows.append([name, f"{med:.2f} s", f"{max(times):.2f} s", "yes" if med < TARGET_S else "**no**"])
    body = [
        f"Demo history: {args.users:,} users × {args.days} days (`huoli demo run`), median of {args.repeat} "
        f"runs in headless Chromium. Target: < {TARGET_S:.0f} s per view.",
        "",
        *markdown_table(["view", "median", "max", f"< {TARGET_S:.0f} s"], rows),
        "",
        "The overview asks `GET /admin/events/summary` once for the range and once per local day (4 at a time), "
        "so its time grows with the number of days until the analytics API serves daily series.",
    ]
    command = f"python bench/console.py --users {args.users} --days {args.days} --repeat {args.repeat}"
    write_section("console", "Console", command, body, write=not args.no_write)


if __name__ == "__main__":
    main()

"""The 备份 / Backups console page in Chromium: list, 立即备份 run by the primary queue, verify, schedule,
restore instructions; English; screenshots into /tmp/shots for a look."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.browser.fixtures import ConsoleSession, LiveServer, client_event
from tests.jobs.helpers import drain

from huoli.backup import service
from huoli.jobs.queue import queue_for

SHOTS = Path("/tmp/shots")


def shot(console: ConsoleSession, name: str) -> None:
    path = console.shot(name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SHOTS / f"backup-{name}.png")


@pytest.mark.parametrize("live_server", [{"backup_schedule": "0 3 * * *", "backup_keep": 7}], indirect=True)
def test_backups_page_backs_up_now_verifies_and_explains_restore(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    rt = live_server.runtime
    live_server.post_events("shop", [client_event("page_view", datetime.now(UTC)) for _ in range(12)])
    page = console.page
    page.locator("#nav a[data-page=backups]").click()
    page.locator("#backup-settings dl").wait_for()
    assert "还没有备份" in page.locator("#backups-table").inner_text()
    settings = page.locator("#backup-settings").inner_text()
    assert "每天 03:00" in settings and "最新 7 份" in settings
    assert "0 3 * * *" in settings and "Asia/Shanghai" in settings and "7" in settings
    assert "huoli backup restore" in page.locator("#backup-restore").inner_text()
    assert "var/backups/<备份名> --data-dir" in page.locator("#backup-restore-cmd").inner_text()

    page.locator("#backup-now").click()
    page.locator(".toast").get_by_text("备份已加入队列").wait_for()
    drain(rt, queue_for(rt))
    page.locator("#backups-refresh").click()
    row = page.locator("#backups-table tbody tr").first
    row.wait_for()
    text = row.inner_text()
    assert "12" in text and "在线" in text and "完好" in text
    assert "成功" in page.locator("#backup-settings").inner_text()

    name = service.list_backups(service.default_root(rt.settings))[-1].path.name
    (service.default_root(rt.settings) / name / service.SQLITE_FILE).write_bytes(b"damaged")
    row.locator(f"button[data-verify='{name}']").click()
    page.locator("#backup-result").get_by_text("校验失败").wait_for()
    page.locator("#backups-table [data-verified=bad]").wait_for()
    # the server's problem list, in Chinese: which file, its size against the manifest's
    assert "大小为 7 字节" in page.locator("#backup-result").inner_text()
    shot(console, "zh")

    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=backups]").get_by_text("Backups").wait_for()
    page.locator("#backups-table tbody tr").first.wait_for()
    assert page.locator(".page-title").inner_text() == "Backups"
    assert "Back up now" in page.locator("#backup-now").inner_text()
    assert "damaged" in page.locator("#backups-table").inner_text()
    assert "Daily at 03:00" in page.locator("#backup-settings").inner_text()
    assert "7 bytes, the manifest says" in page.locator("#backup-result").inner_text()
    assert "How to restore" in page.locator("#backup-restore").inner_text()
    shot(console, "en")
    console.check()


def test_operators_see_the_list_but_cannot_back_up(
    live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    keys = live_server.make_app("shop", "小店")
    console = open_console(keys["operator"])
    page = console.page
    page.locator("#nav a[data-page=backups]").click()
    page.locator("#backup-settings dl").wait_for()
    assert page.locator("#backup-now").is_disabled()
    assert "只有所有者" in page.locator("#backup-owner-only").inner_text()
    assert "未开启" in page.locator("#backup-settings").inner_text()
    shot(console, "operator-zh")
    console.check()


def test_backups_page_fits_a_phone(console: ConsoleSession) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    console.goto("#/backups")
    console.wait_ready()
    page.locator("#backup-settings dl").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    console.shot("backups-phone")

"""The 砍价, 邀请有礼 and 分销 console pages in headless Chromium against a live huoli: every activity is created
and ended (or paused and resumed) through the console only, taken part in through the mini-program's service
in between, refused input is said at its field in Chinese, and the database, the event log and the audit trail
are checked afterwards. One live server and one browser page for the module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from tests.browser.fixtures import ARTIFACTS, ConsoleSession, LiveServer, serve_live
from tests.events.helpers import signed_headers
from tests.promotions.helpers import at

from huoli.audit.models import AuditEntry
from huoli.db import unit_of_work
from huoli.errors import Conflict
from huoli.promotions import bargain, referrals
from huoli.promotions.models import BargainCampaign, DistributionConfig, ReferralProgram


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_live(tmp_path_factory.mktemp("growth")) as s:
        s.make_app("shop", "小店")
        yield s


@pytest.fixture(scope="module")
def console(browser: Any, server: LiveServer) -> Iterator[ConsoleSession]:
    artifacts = ARTIFACTS / "test_console_growth"
    artifacts.mkdir(parents=True, exist_ok=True)
    for old in artifacts.glob("*.png"):
        old.unlink()
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    session = ConsoleSession(context, server, artifacts)
    session.goto()
    session.sign_in(server.keys["shop"]["owner"])
    yield session
    try:
        session.shot("final")
    finally:
        context.close()
    session.check()


def _sync_item(server: LiveServer, item: dict[str, Any]) -> None:
    """An item as the merchant's backend syncs it (the catalog's signed sync call)."""
    owner = server.keys["shop"]["owner"]
    secret = server.api(owner, "POST", "/admin/app/server-secret/reveal").json()["server_secret"]
    path = "/v1/server/catalog/items/batch"
    raw = orjson.dumps({"items": [item]})
    r = httpx.post(f"{server.url}{path}", content=raw, headers=signed_headers("shop", secret, path, raw))
    assert r.status_code == 200, r.text


def _open(console: ConsoleSession, page_id: str) -> None:
    console.page.locator(f"#nav a[data-page={page_id}]").click()
    console.wait_ready()


def _rows(server: LiveServer, model: Any) -> list[Any]:
    with unit_of_work(server.runtime.sessions, app_id="shop") as db:
        rows = list(db.scalars(select(model)).all())
        db.expunge_all()
    return rows


def _audit(server: LiveServer) -> list[str]:
    with unit_of_work(server.runtime.sessions, app_id="shop") as db:
        return [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def _events(server: LiveServer, name: str, within_s: float = 10) -> list[dict[str, Any]]:
    """The app's events called `name` from the event log (the outbox relay writes them within a moment)."""
    owner = server.keys["shop"]["owner"]
    deadline = time.monotonic() + within_s
    while True:
        found = [
            e for e in server.api(owner, "GET", "/admin/events/recent?limit=1000").json() if e["name"] == name
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _props(event: dict[str, Any]) -> dict[str, Any]:
    props = event.get("properties") or {}
    return orjson.loads(props) if isinstance(props, str) else props


def test_bargain_refused_then_created_and_ended(console: ConsoleSession, server: LiveServer) -> None:
    page = console.page
    _open(console, "promo-bargain")
    assert page.locator(".page-title").inner_text() == "砍价"
    page.locator("#bg-list .empty").first.wait_for()  # nothing yet: said so

    _sync_item(server, {"id": "kettle-9", "title": "电水壶", "price_fen": 3990, "stock": 50})
    item = page.locator("#bg-item")
    item.click()
    item.press_sequentially("电水壶")  # the catalog's items, searched by title
    page.locator(
        ".el-select-dropdown:visible .el-select-dropdown__item", has_text="电水壶（kettle-9）"
    ).click()
    page.locator(".hfield[data-name=item_id] .field-hint", has_text="¥39.90").wait_for()
    assert page.locator("#bg-price").input_value() == "39.90"  # the catalog's price is the default
    assert page.locator("#bg-name").input_value() == "电水壶 砍价"
    page.locator("#bg-name").fill("电水壶 邀请好友砍到底")
    page.locator("#bg-floor").fill("45")  # above the start price
    page.locator("#bg-helpers").fill("3")
    page.locator("#bg-form button[type=submit]").click()
    error = page.locator(".field-error[data-field=floor_fen]")
    error.wait_for()
    assert "底价须低于原价" in error.inner_text() and "¥39.90" in error.inner_text()
    assert page.locator("#bg-floor").get_attribute("aria-invalid") == "true"
    assert _rows(server, BargainCampaign) == []
    console.shot("bargain-refused")

    page.locator("#bg-floor").fill("9.90")
    preview = page.locator("#bg-rules-preview[data-ok=true] .rules-text")  # the live compliance check
    preview.wait_for()
    assert "邀请3位好友助力即可以9.90元购买" in preview.inner_text()
    page.locator("#bg-form button[type=submit]").click()
    cuts = page.locator("#bg-created .cuts li")
    cuts.first.wait_for()
    assert cuts.count() == 3  # every cut as the API fixed it: 30 元 in 3 cuts
    texts = cuts.all_inner_texts()
    assert all("¥" in x for x in texts) and "第 1 刀" in texts[0]
    row = page.locator("#bg-table tbody tr", has_text="电水壶 邀请好友砍到底")
    row.wait_for()
    assert "¥39.90 → ¥9.90" in row.inner_text() and "3 人" in row.inner_text()
    assert row.locator(".act-state").inner_text() == "进行中"
    href = row.locator("a.results-link").get_attribute("href") or ""
    assert href.startswith("#/activity-results?kind=bargain-campaigns&id=bargain-")
    [c] = _rows(server, BargainCampaign)
    assert (c.item_id, c.price_fen, c.floor_fen, c.helpers_needed, c.duration_s) == (
        "kettle-9",
        3990,
        990,
        3,
        86400,
    )
    assert c.ends_at is not None and c.ended_at is None  # the default end, a week out
    console.shot("bargain-created")

    # a user starts a bargain in the mini-program: the list's live figures and the event log say so
    with unit_of_work(server.runtime.sessions, app_id="shop") as db:
        started = bargain.start(at(db, server.runtime, None), campaign_id=c.id, user_id="u-bargainer").id
    page.locator("#bg-refresh").click()
    row.locator(".col-bargains [data-status=active] b", has_text="1").wait_for()  # in progress: 1
    assert row.locator(".col-figures [data-fig=participants] b").inner_text() == "1"
    assert page.locator("#bg-kpis [data-stat=participants] .stat-value").inner_text() == "1"
    [event] = _events(server, "bargain_started")
    assert (event["user_id"], event["item_id"], _props(event).get("bargain_id")) == (
        "u-bargainer",
        "kettle-9",
        started,
    )

    row.locator(".act-end").click()  # ending asks first, says it cannot be undone
    page.locator(".el-message-box").wait_for()
    console.confirm()
    page.locator("#bg-table tbody tr .act-state", has_text="已结束").wait_for()
    assert row.locator(".act-pause, .act-resume, .act-end").count() == 0  # nothing left to do
    [c] = _rows(server, BargainCampaign)
    assert c.ended_at is not None
    with unit_of_work(server.runtime.sessions, app_id="shop") as db, pytest.raises(Conflict) as refused:
        bargain.start(at(db, server.runtime, None), campaign_id=c.id, user_id="u-late")
    assert refused.value.code == "activity_not_running"  # ended: nobody starts a new bargain
    actions = _audit(server)
    assert "POST /admin/promotions/bargain-campaigns" in actions
    assert any("bargain-campaigns" in a and a.endswith("/end") for a in actions)


def test_referral_from_two_templates(console: ConsoleSession, server: LiveServer) -> None:
    page = console.page
    owner = server.keys["shop"]["owner"]
    for tid, name, amount in (("ref-giver", "邀请人 10 元券", 1000), ("ref-newbie", "新人 5 元券", 500)):
        r = server.api(
            owner,
            "POST",
            "/admin/promotions/coupon-templates",
            json={
                "id": tid,
                "name": name,
                "kind": "fixed",
                "amount_fen": amount,
                "valid_days": 7,
                "claim_trigger": "reward",
            },
        )
        assert r.status_code == 201, r.text
    _open(console, "promo-referral")
    assert page.locator("#rf-rules-waiting").is_visible()  # checked live once both rewards are picked
    page.locator("#rf-form button[type=submit]").click()  # no coupons picked: said at both pickers
    page.locator(".field-error[data-field=referrer_template_id]", has_text="请选择奖励券").wait_for()
    assert page.locator(".field-error[data-field=invitee_template_id]").count() == 1

    page.locator("#rf-name").fill("邀请好友首单各得券")
    console.choose("#rf-referrer-tpl", "邀请人 10 元券（立减 ¥10.00）")
    page.locator(".el-select__popper:visible").wait_for(state="hidden")  # the first list closed
    console.choose("#rf-invitee-tpl", "新人 5 元券（立减 ¥5.00）")
    page.locator("#rf-cap").fill("5")
    preview = page.locator("#rf-rules-preview[data-ok=true] .rules-text")
    preview.wait_for()
    assert "完成首单" in preview.inner_text() and "最多获得5次" in preview.inner_text()
    page.locator("#rf-form button[type=submit]").click()
    row = page.locator("#rf-table tbody tr", has_text="邀请好友首单各得券")
    row.wait_for()
    assert "邀请人 10 元券" in row.inner_text() and "好友首单支付" in row.inner_text()
    [p] = _rows(server, ReferralProgram)
    assert (
        p.qualifying_action,
        p.referrer_template_id,
        p.invitee_template_id,
        p.max_rewards_per_referrer,
    ) == ("first_order", "ref-giver", "ref-newbie", 5)

    with unit_of_work(server.runtime.sessions, app_id="shop") as db:  # a user asks for an invite code
        referrals.invite_code(at(db, server.runtime, None), program_id=p.id, user_id="u-referrer")
    page.locator("#rf-refresh").click()
    row.locator(".col-invite_codes", has_text="1").wait_for()

    row.locator(".act-pause").click()
    console.confirm()
    row.locator(".act-state", has_text="已暂停").wait_for()
    assert _rows(server, ReferralProgram)[0].active is False
    row.locator(".act-resume").click()
    console.confirm()
    row.locator(".act-state", has_text="进行中").wait_for()
    row.locator(".act-end").click()
    console.confirm()
    row.locator(".act-state", has_text="已结束").wait_for()
    [p] = _rows(server, ReferralProgram)
    assert p.active is True and p.ended_at is not None
    done = [a for a in _audit(server) if "referral-programs" in a]
    assert done[0] == "POST /admin/promotions/referral-programs"
    assert [a.rsplit("/", 1)[-1] for a in done[1:]] == ["pause", "resume", "end"]
    console.shot("referral")


def test_distribution_levels_and_pause(console: ConsoleSession, server: LiveServer) -> None:
    page = console.page
    _open(console, "promo-distribution")
    page.locator("#ds-none").wait_for()  # not set up yet
    page.locator("#ds-levels").get_by_text("三级分销（微信禁止）").click()
    page.locator(
        "#ds-rules-preview[data-ok=false] li[data-field=levels]"
    ).wait_for()  # the live check says why
    page.locator("#ds-form button[type=submit]").click()
    error = page.locator(".field-error[data-field=levels]")
    error.wait_for()
    assert "最多两级" in error.inner_text()
    assert _rows(server, DistributionConfig) == []
    console.shot("distribution-refused")

    page.locator("#ds-levels").get_by_text("二级分销").click()
    page.locator("#ds-level1").fill("12.5")
    page.locator("#ds-level2").fill("3")
    page.locator("#ds-freeze").fill("10")
    page.locator("#ds-min-withdraw").fill("20")
    preview = page.locator("#ds-rules-preview[data-ok=true] .rules-text")
    preview.wait_for()
    assert "一级佣金12.5%，二级佣金3%" in preview.inner_text()
    page.locator("#ds-form button[type=submit]").click()
    page.locator("#ds-facts dd[data-key=level1]", has_text="12.5%").wait_for()
    [cfg] = _rows(server, DistributionConfig)
    assert (cfg.levels, cfg.level1_bp, cfg.level2_bp, cfg.freeze_days, cfg.min_withdraw_fen) == (
        2,
        1250,
        300,
        10,
        2000,
    )

    page.locator("#ds-toggle").click()
    console.confirm()
    page.locator("#ds-state[data-state=paused]").wait_for()
    assert _rows(server, DistributionConfig)[0].active is False
    page.locator("#ds-toggle").click()
    console.confirm()
    page.locator("#ds-state[data-state=running]").wait_for()
    assert _rows(server, DistributionConfig)[0].active is True
    actions = _audit(server)
    assert any(a.endswith("/distribution/pause") for a in actions)
    assert any(a.endswith("/distribution/resume") for a in actions)
    console.shot("distribution")

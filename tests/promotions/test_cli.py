"""`huoli promotions …` as operators run it: the deadline job and the refund run against the fake WeChat Pay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes.wechatpay_server import (
    MCHID,
    MERCHANT_KEY_PEM,
    PLATFORM_PUBLIC_PEM,
    PLATFORM_SERIAL,
    SERIAL_NO,
    FakeWeChatPay,
    fake_wechatpay,
    fake_wechatpay_server,
)
from tests.promotions.helpers import at

from huoli.promotions import groupbuy
from huoli.promotions.schemas import GroupCampaignIn
from huoli.runtime import Runtime

__all__ = ["fake_wechatpay", "fake_wechatpay_server"]


def huoli(*args: str, runtime: Runtime, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HUOLI_DATA_DIR": str(tmp_path / "cli-var"),
        "HUOLI_DATABASE_URL": runtime.settings.database_url,
        # the runtime's secrets are encrypted with its data dir's key: the command needs the same key
        "HUOLI_ENCRYPTION_KEYS": ",".join(runtime.settings.resolved_encryption_keys()),
        # the test's runtime holds the DuckDB file; the command gets its own event store
        "HUOLI_EVENT_STORE_URL": f"duckdb:///{tmp_path / 'cli-events.duckdb'}",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", "promotions", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_jobs_close_a_due_group_and_refunds_pay_it_once(  # type: ignore[no-untyped-def]
    uow, runtime: Runtime, tmp_path: Path, fake_wechatpay: FakeWeChatPay
) -> None:
    opened = datetime.now(UTC) - timedelta(days=2)
    with uow() as db:
        groupbuy.create_campaign(
            at(db, runtime, opened),
            spec=GroupCampaignIn(
                id="g",
                name="3人团",
                item_id="i",
                original_price_fen=100,
                group_price_fen=80,
                size=3,
                duration_s=3600,
            ),
        )
        groupbuy.join(
            at(db, runtime, opened),
            campaign_id="g",
            group_id=None,
            user_id="u1",
            out_trade_no="T9000001",
            paid_fen=80,
        )
    fake_wechatpay.add_order("T9000001", 80)
    jobs = huoli("jobs", runtime=runtime, tmp_path=tmp_path)
    assert jobs.returncode == 0, jobs.stderr
    assert json.loads(jobs.stdout)["groups"] == {"failed": 1, "filled": 0}
    key_file, platform_file = tmp_path / "apiclient_key.pem", tmp_path / "pub_key.pem"
    key_file.write_bytes(MERCHANT_KEY_PEM)
    platform_file.write_bytes(PLATFORM_PUBLIC_PEM)
    pay = [
        "refunds",
        "--mchid",
        MCHID,
        "--serial-no",
        SERIAL_NO,
        "--key-file",
        str(key_file),
        "--platform-key-file",
        str(platform_file),
        "--platform-serial",
        PLATFORM_SERIAL,
        "--base-url",
        fake_wechatpay.url,
    ]
    for expected in (1, 0):
        run = huoli(*pay, runtime=runtime, tmp_path=tmp_path)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["succeeded"] == expected
    assert fake_wechatpay.refunded_fen("T9000001") == 80
    missing = huoli("refunds", "--mchid", MCHID, "--serial-no", SERIAL_NO, runtime=runtime, tmp_path=tmp_path)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    swapped = [*pay]
    swapped[swapped.index(str(key_file))] = str(platform_file)  # a public key where the private one goes
    wrong = huoli(*swapped, runtime=runtime, tmp_path=tmp_path)
    assert wrong.returncode != 0 and "cannot load the WeChat Pay keys" in wrong.stderr + wrong.stdout
    assert "Traceback" not in wrong.stderr
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"levels": 3, "level1_bp": 100}))
    check = huoli("check", "distribution", str(bad), runtime=runtime, tmp_path=tmp_path)
    assert check.returncode == 1 and '"levels"' in check.stdout

"""`huoli promotions …`: run the periodic jobs, pay owed refunds through WeChat Pay, check a configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from huoli.apps import service as apps
from huoli.cli_support import fail, guarded, out, runtime
from huoli.db import read_only
from huoli.promotions import compliance, flows, payments, service
from huoli.wechat.pay import DEFAULT_BASE_URL, rsa_signer, rsa_verifier
from huoli.work import Caller, open_work

CLI_NAME = "promotions"
cli = typer.Typer(
    help="Coupons, flash sales, group buys, bargains, referrals, distribution.", no_args_is_help=True
)


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Sum one app's sweep counts into the total (numbers, and dicts of numbers)."""
    for k, v in part.items():
        if isinstance(v, dict):
            _add(total.setdefault(k, {}), v)
        else:
            total[k] = total.get(k, 0) + v


def _print(obj: Any) -> None:

    out.print_json(json.dumps(obj, default=str, ensure_ascii=False))


@cli.command("jobs")
def jobs(
    app_id: Annotated[str | None, typer.Option("--app", help="Only this app (default: all apps).")] = None,
) -> None:
    """Expire coupons and unpaid flash reservations, close due groups, expire bargains, credit commissions.

    Idempotent and safe to run concurrently: schedule it every minute (cron / systemd timer)."""

    with runtime() as rt:

        def run() -> dict[str, object]:
            if app_id is not None:
                ids = [app_id]
            else:
                with read_only(rt.sessions) as db:
                    ids = [a.id for a in apps.list_all(db=db)]
            total: dict[str, object] = {}
            for one in ids:  # one unit per app, as the scheduled job runs it
                with open_work(rt, one, Caller("cli")) as work:
                    _add(total, service.run_jobs(work))
            return total

        _print(guarded(run))


@cli.command("refunds")
def refunds(
    mchid: Annotated[
        str | None,
        typer.Option(
            envvar="HUOLI_WECHATPAY_MCHID",
            help="Deployment merchant id: for apps without a merchant of their own.",
        ),
    ] = None,
    serial_no: Annotated[
        str | None,
        typer.Option(
            envvar="HUOLI_WECHATPAY_SERIAL_NO",
            help="Serial number of the deployment merchant's API certificate.",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(envvar="HUOLI_WECHATPAY_KEY_FILE", help="Merchant API private key (apiclient_key.pem)."),
    ] = None,
    platform_key_file: Annotated[
        Path | None,
        typer.Option(
            envvar="HUOLI_WECHATPAY_PLATFORM_KEY_FILE",
            help="WeChat Pay public key (微信支付公钥, PEM) or platform certificate: answers are checked with it.",
        ),
    ] = None,
    platform_serial: Annotated[
        str | None,
        typer.Option(
            envvar="HUOLI_WECHATPAY_PLATFORM_SERIAL",
            help="Its id as WeChat sends it in Wechatpay-Serial (PUB_KEY_ID_… or the certificate serial).",
        ),
    ] = None,
    notify_base_url: Annotated[
        str | None,
        typer.Option(
            envvar="HUOLI_WECHATPAY_NOTIFY_BASE_URL",
            help="e.g. https://huoli.example.com: each refund's notify_url becomes "
            "<this>/v1/promotions/wechatpay/refund-notify/<app> (unset: the merchant platform's setting).",
        ),
    ] = None,
    base_url: Annotated[str, typer.Option(envvar="HUOLI_WECHATPAY_BASE_URL")] = DEFAULT_BASE_URL,
    qps: Annotated[float, typer.Option(min=1, max=150, help="Pacing; WeChat allows about 150/s.")] = 100.0,
) -> None:
    """Pay the refunds owed by failed or over-full group buys (idempotent on out_refund_no; retry freely).

    Each app's refunds go through its own merchant (`huoli apps set-wechatpay`), else through the merchant
    given here; apps with neither keep theirs pending (counted as not_configured)."""

    given = [mchid, serial_no, key_file, platform_key_file, platform_serial]
    fallback = None
    if any(v is not None for v in given):
        if not all(v is not None for v in given):
            raise fail(
                "the deployment merchant needs all of --mchid, --serial-no, --key-file, --platform-key-file "
                "and --platform-serial (or none: only apps with their own merchant are paid)"
            )
        assert key_file is not None and platform_key_file is not None
        try:
            private_pem, platform_pem = key_file.read_bytes(), platform_key_file.read_bytes()
            rsa_signer(private_pem)  # refuse a wrong key before anything is sent
            rsa_verifier({str(platform_serial): platform_pem})
        except (OSError, ValueError, TypeError) as exc:  # unreadable file, not PEM, not RSA
            raise fail(f"cannot load the WeChat Pay keys: {exc}") from None
        fallback = payments.DeploymentMerchant(
            str(mchid), str(serial_no), private_pem, str(platform_serial), platform_pem
        )
    base = notify_base_url.rstrip("/") if notify_base_url else None
    with (
        runtime() as rt,
        flows.merchants(rt, fallback=fallback, base_url=base_url, qps=qps) as merchants,
    ):
        _print(
            guarded(
                lambda: flows.process_refunds(
                    rt,
                    pay_for=merchants,
                    notify_url=lambda app: f"{base}{payments.notify_path(app)}" if base else None,
                )
            )
        )


@cli.command("check")
def check(
    kind: Annotated[str, typer.Argument(help="coupon | group | bargain | referral | distribution")],
    config: Annotated[Path, typer.Argument(help="JSON file with the configuration")],
) -> None:
    """Check a configuration against the platform rules and print the rule text users would see."""

    if kind not in compliance.KINDS:
        raise fail(f"unknown kind {kind!r}; one of {', '.join(compliance.KINDS)}")
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {config}: {exc}") from None
    if not isinstance(data, dict):
        raise fail("the configuration must be a JSON object")
    violations, text = compliance.check(kind, data)
    _print({"ok": not violations, "violations": violations, "rules_text": text})
    if violations:
        raise typer.Exit(code=1)

"""The `huoli` command: mounts each domain's commands. Errors print a message and exit non-zero.

Commands import what only they use inside their function, and a domain's commands are imported only when one of
them runs (`DomainGroup`), so `huoli --help` and the light commands start without DuckDB, Ibis or FastAPI.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from huoli.apps.schemas import Role
from huoli.cli_support import database, err, fail, guarded, load_settings, out, runtime
from huoli.domains import DomainCli, domain_clis

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from huoli.crypto import Keyring
    from huoli.runtime import Runtime
    from huoli.settings import Settings


class _DomainStub(TyperGroup):
    """A domain's command group as `huoli --help` lists it: its name and help, nothing imported."""

    def __init__(self, spec: DomainCli) -> None:
        super().__init__(name=spec.name, help=spec.help)
        self.spec = spec


class DomainGroup(TyperGroup):
    """The root group: each domain's cli.py is imported when one of its commands runs (or its help is asked)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for spec in domain_clis():
            self.commands.setdefault(spec.name, _DomainStub(spec))

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        if isinstance(cmd, _DomainStub) and name is not None:
            cmd = self.commands[name] = _load_domain(cmd.spec)
        return name, cmd, rest


def _load_domain(spec: DomainCli) -> Any:
    """The domain's Typer turned into a click group exactly as `app.add_typer(module.cli, name=…)` would."""
    module = spec.load()
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    holder.add_typer(module.cli, name=module.CLI_NAME)
    group = typer.main.get_group(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[module.CLI_NAME]


app = typer.Typer(
    name="huoli",
    help="huoli 活力 — growth engine for WeChat mini-programs.",
    cls=DomainGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
apps_cli = typer.Typer(help="Mini-programs served by this deployment.", no_args_is_help=True)
keys_cli = typer.Typer(help="Operator API keys (roles: owner, operator, analyst).", no_args_is_help=True)
demo_cli = typer.Typer(help="Deterministic demo data.", no_args_is_help=True)
events_cli = typer.Typer(help="The event log.", no_args_is_help=True)
app.add_typer(apps_cli, name="apps")
app.add_typer(keys_cli, name="keys")
app.add_typer(demo_cli, name="demo")
secrets_cli = typer.Typer(
    help="Secrets at rest: encryption keys and their rotation (docs/reliability.md#secrets).",
    no_args_is_help=True,
)
app.add_typer(events_cli, name="events")
app.add_typer(secrets_cli, name="secrets")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings: 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Processes (default from settings: 1). The first owns the event store; the others answer "
            "/v1/ calls and forward the rest to it. Meant for PostgreSQL.",
        ),
    ] = None,
) -> None:
    """Serve the API (OpenAPI at /docs) on the embedded stores or the configured ones."""
    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    n = workers or settings.workers
    with runtime() as rt:
        out.print(
            f"huoli serving on http://{host}:{port}  (docs: /docs)" + (f" — {n} processes" if n > 1 else "")
        )
        listen_and_serve(settings, rt, host, port, n)


@app.command()
def worker(
    queue: Annotated[
        str,
        typer.Option(
            help="general (default): every job but those reading the event store; primary or all: also those "
            "(opens the event store: only where `huoli serve` does not hold it, e.g. a ClickHouse store).",
        ),
    ] = "general",
    threads: Annotated[
        int | None, typer.Option(min=1, max=64, help="Job threads (default from settings: 2).")
    ] = None,
) -> None:
    """Run jobs from the queue (HUOLI_JOBS_URL: Redis for workers on several machines, the SQLite file for
    one); stops on SIGTERM / Ctrl-C after the running jobs finish (at most 30 s)."""
    from huoli.jobs.cli import run_worker

    run_worker(queue, threads)


@contextmanager
def operational(app_id: str | None = None, *, track: bool = False) -> Iterator[tuple[Settings, Session]]:
    """A unit of work on the operational database alone: no event store (and no lock on it), so these commands
    run beside `huoli serve`. `track`: the unit's row changes join the audit trail (`_audited`)."""
    from huoli import crypto
    from huoli.audit import service as audit
    from huoli.db import make_session_factory, unit_of_work
    from huoli.models import Base

    with database() as (settings, engine, keyring):
        # As the runtime does: refuse at start a stored secret under a key that is not configured.
        guarded(lambda: crypto.check_keys(engine, Base.metadata, keyring))
        with unit_of_work(make_session_factory(engine), app_id=app_id) as db:
            if track:
                audit.track(db)
            yield settings, db


def listen_and_serve(settings: Settings, rt: Runtime, host: str, port: int, workers: int = 1) -> None:
    from huoli import serving  # imports the whole HTTP app: only the serving commands pay for it

    try:
        sock = serving.bind(host, port, shared=workers > 1)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    serving.serve(settings, rt, sock, workers)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "heads",
    downgrade: Annotated[bool, typer.Option(help="Downgrade to the revision instead.")] = False,
) -> None:
    """Apply (or roll back) operational-database migrations."""
    from huoli import migrate as migrations
    from huoli.db import make_engine
    from huoli.runtime import keyring_for

    settings = load_settings()
    keyring = guarded(lambda: keyring_for(settings))
    engine = make_engine(settings.resolved_database_url(), keyring=keyring)  # data migrations encrypt secrets
    try:
        (migrations.downgrade if downgrade else migrations.upgrade)(engine, revision)
        out.print(f"database at revision {', '.join(migrations.current(engine))}")
    except Exception as exc:
        raise fail(f"migration failed: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


WX_SECRET_ENV = "HUOLI_WX_SECRET"
WxSecretFile = Annotated[
    Path | None,
    typer.Option(
        "--wx-secret-file",
        help=f"File holding the WeChat AppSecret ('-': standard input). Or set {WX_SECRET_ENV}; otherwise it "
        "is asked for, hidden, on a terminal. Never on the command line: ps and shell history would show it.",
    ),
]
# Refused with an explanation: an AppSecret passed as an argument is visible in `ps` and shell history.
RemovedWxSecret = Annotated[str | None, typer.Option("--wx-secret", hidden=True)]


def read_wx_secret(file: Path | None, removed: str | None, *, ask: bool) -> str | None:
    """The AppSecret from --wx-secret-file, else $HUOLI_WX_SECRET, else a hidden prompt on a terminal."""
    if removed is not None:
        raise fail(
            f"--wx-secret is no longer accepted (a secret on the command line shows in ps and shell history): "
            f"use --wx-secret-file FILE, the {WX_SECRET_ENV} environment variable, or answer the hidden prompt"
        )
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text()
        except OSError as exc:
            raise fail(f"cannot read --wx-secret-file: {exc.strerror or exc}") from None
        return text.strip() or None
    if os.environ.get(WX_SECRET_ENV, "").strip():
        return os.environ[WX_SECRET_ENV].strip()
    if ask and sys.stdin.isatty():
        answer: str = typer.prompt(
            "WeChat AppSecret (hidden; empty: none)", default="", hide_input=True, show_default=False
        )
        return answer.strip() or None
    return None


@apps_cli.command("create")
def apps_create(
    app_id: Annotated[str, typer.Argument(help="Slug, e.g. my-shop.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    timezone: Annotated[str, typer.Option(help="IANA timezone of the app's local days.")] = "Asia/Shanghai",
    wx_appid: Annotated[str | None, typer.Option(help="WeChat mini-program AppID (wx…).")] = None,
    wx_secret_file: WxSecretFile = None,
    wx_secret: RemovedWxSecret = None,
) -> None:
    """Register a mini-program; prints its server-to-server signing secret once."""
    from huoli.apps import service as apps
    from huoli.apps.schemas import AppCreate

    secret = read_wx_secret(wx_secret_file, wx_secret, ask=wx_appid is not None)
    with operational() as (_settings, db):
        body = guarded(
            lambda: AppCreate(id=app_id, name=name, timezone=timezone, wx_appid=wx_appid, wx_secret=secret)
        )
        created = guarded(lambda: apps.create(db=db, app_in=body))
        out.print(f"created app [bold]{created.id}[/]")
        out.print(f"server signing secret (for your backend's HMAC calls): {created.server_secret}")


@apps_cli.command("set-wx-secret")
def apps_set_wx_secret(
    app_id: Annotated[str, typer.Argument(help="App.")],
    wx_secret_file: WxSecretFile = None,
    wx_secret: RemovedWxSecret = None,
) -> None:
    """Set or replace an app's WeChat AppSecret (after a reset on mp.weixin.qq.com); stored encrypted."""
    secret = read_wx_secret(wx_secret_file, wx_secret, ask=True)
    if secret is None:
        raise fail(f"no AppSecret given: use --wx-secret-file FILE or {WX_SECRET_ENV}")
    from huoli.apps import service as apps

    with operational(app_id, track=True) as (_settings, db):
        guarded(lambda: apps.set_wx_secret(db=db, app_id=app_id, wx_secret=secret))
        _audited(db, app_id, "cli apps set-wx-secret", {})
        out.print(
            f"WeChat AppSecret of {app_id} replaced; running servers use it within 30 s (their app cache)"
        )


APIV3_KEY_ENV = "HUOLI_APP_WECHATPAY_API_V3_KEY"


def _read_pem(option: str, path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {option} {path}: {getattr(exc, 'strerror', None) or exc}") from None


@apps_cli.command("set-wechatpay")
def apps_set_wechatpay(
    app_id: Annotated[str, typer.Option("--app", help="App.")],
    mch_id: Annotated[str, typer.Option("--mch-id", help="WeChat Pay merchant id (商户号).")],
    serial: Annotated[str, typer.Option("--serial", help="Serial number of the merchant API certificate.")],
    private_key_file: Annotated[
        Path, typer.Option("--private-key-file", help="Merchant API private key (apiclient_key.pem).")
    ],
    platform_key_file: Annotated[
        Path,
        typer.Option(
            "--platform-key-file", help="WeChat Pay public key (pub_key.pem) or platform certificate."
        ),
    ],
    platform_key_id: Annotated[
        str,
        typer.Option(
            "--platform-key-id", help="Its id as WeChat sends it in Wechatpay-Serial (PUB_KEY_ID_…)."
        ),
    ],
    api_v3_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-v3-key-file",
            help=f"File holding the APIv3 key ('-': standard input). Or set {APIV3_KEY_ENV}; otherwise it is "
            "asked for, hidden, on a terminal. Never on the command line: ps and shell history would show it.",
        ),
    ] = None,
    api_v3_key: Annotated[str | None, typer.Option("--api-v3-key", hidden=True)] = None,
) -> None:
    """Set or replace an app's WeChat Pay merchant (refunds and refund notifications); stored encrypted.

    The notify URL naming the app: /v1/promotions/wechatpay/refund-notify/<app> (docs/promotions.md)."""
    from huoli.apps import service as apps
    from huoli.promotions import payments

    if api_v3_key is not None:
        raise fail(
            "--api-v3-key is not accepted (a secret on the command line shows in ps and shell history): use "
            f"--api-v3-key-file FILE, the {APIV3_KEY_ENV} environment variable, or answer the hidden prompt"
        )
    key: str | None = None
    if api_v3_key_file is not None:
        try:
            key = sys.stdin.read() if str(api_v3_key_file) == "-" else api_v3_key_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read --api-v3-key-file: {getattr(exc, 'strerror', None) or exc}") from None
    elif os.environ.get(APIV3_KEY_ENV, "").strip():
        key = os.environ[APIV3_KEY_ENV]
    elif sys.stdin.isatty():
        key = typer.prompt("WeChat Pay APIv3 key (hidden)", default="", hide_input=True, show_default=False)
    if not (key or "").strip():
        raise fail(f"no APIv3 key given: use --api-v3-key-file FILE or {APIV3_KEY_ENV}")
    private_pem = _read_pem("--private-key-file", private_key_file)
    platform_pem = _read_pem("--platform-key-file", platform_key_file)
    spec = guarded(
        lambda: payments.MerchantIn(
            mch_id=mch_id,
            merchant_serial=serial,
            private_key_pem=private_pem,
            api_v3_key=(key or "").strip(),
            platform_key_id=platform_key_id,
            platform_public_key_pem=platform_pem,
        )
    )
    # track: the row's secret columns are redacted by name in the trail
    with operational(app_id, track=True) as (settings, db):
        guarded(lambda: apps.get(db=db, app_id=app_id))
        row = payments.put(db=db, app_id=app_id, spec=spec, now=datetime.now(UTC))
        _audited(db, app_id, "cli apps set-wechatpay", {"mch_id": mch_id, "platform_key_id": platform_key_id})
        shown = payments.view(row, settings, app_id)
    out.print_json(shown.model_dump_json())


@apps_cli.command("clear-wechatpay")
def apps_clear_wechatpay(app_id: Annotated[str, typer.Option("--app", help="App.")]) -> None:
    """Remove an app's WeChat Pay merchant: it falls back to the deployment's HUOLI_WECHATPAY_* settings."""
    from huoli.apps import service as apps
    from huoli.promotions import payments

    with operational(app_id, track=True) as (_settings, db):
        guarded(lambda: apps.get(db=db, app_id=app_id))
        removed = payments.clear(db=db, app_id=app_id)
        _audited(db, app_id, "cli apps clear-wechatpay", {})
    out.print(f"WeChat Pay merchant of {app_id} {'removed' if removed else 'was not set'}")


@apps_cli.command("list")
def apps_list() -> None:
    """List apps."""
    from rich.table import Table

    from huoli.apps import service as apps

    with operational() as (_settings, db):
        table = Table("id", "name", "timezone", "wx_appid", "created")
        for a in apps.list_all(db=db):
            table.add_row(
                a.id, a.name, a.timezone, a.wx_appid or "-", a.created_at.isoformat(timespec="seconds")
            )
        out.print(table)


def _audited(db: Any, app_id: str, action: str, request: dict[str, Any]) -> None:
    """An operator action from the command line joins the audit trail like one from the API."""
    from huoli.audit import service as audit

    audit.record(
        db, app_id=app_id, actor=audit.Actor.cli(), action=action, at=datetime.now(UTC), request=request
    )


@keys_cli.command("create")
def keys_create(
    app_id: Annotated[str, typer.Option("--app", help="App the key belongs to.")],
    role: Annotated[Role, typer.Option(help="owner, operator or analyst.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "cli",
) -> None:
    """Issue an operator API key; the key is printed once (only its hash is stored)."""
    from huoli.apps import service as apps
    from huoli.apps.schemas import ApiKeyCreate

    with operational(app_id, track=True) as (_settings, db):
        row, key = guarded(
            lambda: apps.issue_key(db=db, app_id=app_id, key_in=ApiKeyCreate(name=name, role=role))
        )
        _audited(db, app_id, "cli keys create", {"name": name, "role": role.value})
        out.print(f"key {row.id} ({row.role}) for app {app_id}:")
        out.print(key, soft_wrap=True, highlight=False)


@keys_cli.command("list")
def keys_list(app_id: Annotated[str, typer.Option("--app", help="App.")]) -> None:
    """List an app's keys (never the secrets)."""
    from rich.table import Table

    from huoli.apps import service as apps

    with operational(app_id) as (_settings, db):
        guarded(lambda: apps.get(db=db, app_id=app_id))
        table = Table("id", "name", "role", "created", "revoked")
        for k in apps.list_keys(db=db):
            revoked = k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "-"
            table.add_row(k.id, k.name, k.role, k.created_at.isoformat(timespec="seconds"), revoked)
        out.print(table)


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (the part after hlk_ and before the dot).")],
    app_id: Annotated[str, typer.Option("--app", help="App.")],
) -> None:
    """Revoke a key immediately."""
    from huoli.apps import service as apps

    with operational(app_id, track=True) as (_settings, db):
        row = guarded(lambda: apps.revoke_key(db=db, key_id=key_id))
        _audited(db, app_id, "cli keys revoke", {"key_id": key_id})
        out.print(f"revoked {row.id}")


@secrets_cli.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new encryption key for HUOLI_ENCRYPTION_KEYS (put it first; keep the old ones until rotated)."""
    from huoli.crypto import generate_key

    out.print(generate_key(), soft_wrap=True, highlight=False)


@secrets_cli.command("add-key")
def secrets_add_key() -> None:
    """Put a new key first in <data_dir>/encryption_key (when HUOLI_ENCRYPTION_KEYS is unset). Then restart
    every huoli process and run `huoli secrets rotate`."""
    from huoli.crypto import Keyring, generate_key
    from huoli.fileperms import replace_private

    settings = load_settings()
    if settings.encryption_keys.strip():
        raise fail(
            "HUOLI_ENCRYPTION_KEYS sets the keys: put a new one (huoli secrets generate-key) first in it"
        )
    keys = [generate_key(), *settings.resolved_encryption_keys()]
    new_id = guarded(lambda: Keyring.from_strings(keys)).current_id
    replace_private(settings.encryption_key_file, "".join(f"{k}\n" for k in keys).encode())
    out.print(
        f"key {new_id} added first to {settings.encryption_key_file} ({len(keys)} keys). Restart every huoli "
        "process (they read the keys at start), then run `huoli secrets rotate`.",
        soft_wrap=True,
        highlight=False,
    )


def _print_status(counts: dict[str, dict[str, int]], keyring: Keyring) -> None:
    from rich.table import Table

    table = Table(
        "column", *(f"{k}{' (newest)' if i == 0 else ''}" for i, k in enumerate(keyring.ids)), "other"
    )
    for column, by_key in counts.items():
        other = {k: n for k, n in by_key.items() if k not in keyring.ids}
        table.add_row(
            column,
            *(f"{by_key.get(k, 0):,}" for k in keyring.ids),
            ", ".join(f"{k}: {n:,}" for k, n in sorted(other.items())) or "-",
        )
    out.print(table)


@secrets_cli.command("status")
def secrets_status() -> None:
    """How many stored secrets each key encrypts, per column ("plaintext": not encrypted yet)."""
    from huoli import crypto
    from huoli.models import Base

    with database() as (_settings, engine, keyring):
        _print_status(crypto.status(engine, Base.metadata), keyring)


@secrets_cli.command("rotate")
def secrets_rotate(
    drop_old_keys: Annotated[
        bool,
        typer.Option(
            "--drop-old-keys",
            help="Afterwards, remove the older keys from <data_dir>/encryption_key (only if nothing needs them).",
        ),
    ] = False,
) -> None:
    """Re-encrypt every stored secret with the newest key (and encrypt any plaintext left); safe to re-run and
    to run beside `huoli serve`, once every process has the newest key."""
    from huoli import crypto
    from huoli.fileperms import replace_private
    from huoli.models import Base

    with database() as (settings, engine, keyring):
        done = guarded(lambda: crypto.rotate(engine, keyring, Base.metadata))
        for column, n in done.items():
            out.print(f"{column}: {n:,} re-encrypted with key {keyring.current_id}", highlight=False)
        counts = crypto.status(engine, Base.metadata)
        _print_status(counts, keyring)
        if not drop_old_keys:
            return
        if settings.encryption_keys.strip():
            raise fail("HUOLI_ENCRYPTION_KEYS sets the keys: remove the older ones from it yourself")
        left = sum(n for by_key in counts.values() for k, n in by_key.items() if k != keyring.current_id)
        if left:
            raise fail(f"{left:,} values are not under the newest key yet: the older keys are kept")
        replace_private(settings.encryption_key_file, f"{settings.resolved_encryption_keys()[0]}\n".encode())
        out.print(f"older keys removed from {settings.encryption_key_file}", soft_wrap=True, highlight=False)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV, CSV.gz, Parquet or JSONL file.")],
    mapping: Annotated[
        str, typer.Option(help="Recipe (online_retail, taobao_userbehavior, huoli_parquet) or TOML.")
    ],
    app_id: Annotated[str, typer.Option("--app", help="App the events belong to.")],
    chunk_rows: Annotated[int, typer.Option(min=1000, help="Rows per store transaction.")] = 1_000_000,
) -> None:
    """Load a file into the event log through a mapping (see docs/events.md#import); re-runs add nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    from huoli.apps import service as apps
    from huoli.db import unit_of_work
    from huoli.events.importer import import_file, load_mapping

    spec = guarded(lambda: load_mapping(mapping))
    with runtime() as rt:
        with unit_of_work(rt.sessions) as db:
            app_timezone = guarded(lambda: apps.get(db=db, app_id=app_id)).timezone
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=not sys.stderr.isatty(),
        ) as progress:
            task = progress.add_task(f"importing {file.name}", total=None)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            result = guarded(
                lambda: import_file(
                    store=rt.store,
                    path=file,
                    mapping=spec,
                    app_id=app_id,
                    now=rt.clock(),
                    chunk_rows=chunk_rows,
                    on_progress=tick,
                    default_timezone=app_timezone,
                )
            )
    out.print(_timezones_used(spec.timezone, result.naive_timezone, app_id, app_timezone), highlight=False)
    rate = result.rows / result.seconds if result.seconds else 0.0
    out.print(
        f"{result.rows:,} rows → {result.accepted:,} new events, {result.duplicates:,} already present, "
        f"{result.rejected:,} rejected, in {result.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    if result.rejected:
        raise typer.Exit(code=2)


def _timezones_used(mapping_tz: str | None, naive_tz: str | None, app_id: str, app_tz: str) -> str:
    """Which timezone did what: the source's naive timestamps were read in one, local days come from the app's."""
    days = f"local days: {app_tz} (app {app_id})"
    if naive_tz is None:
        unused = f"; the mapping's timezone {mapping_tz} was not needed" if mapping_tz else ""
        return f"timestamps: the source's carry their offset, stored as given{unused}; {days}"
    whose = "the mapping's timezone" if mapping_tz else f"app {app_id}'s timezone: the mapping sets none"
    return f"timestamps: those without an offset read as {naive_tz} time ({whose}); {days}"


@events_cli.command("count")
def events_count(
    app_id: Annotated[str, typer.Option("--app", help="App.")],
    name: Annotated[str | None, typer.Option(help="Only this event name.")] = None,
) -> None:
    """Count stored events."""
    with runtime() as rt:
        out.print(rt.store.count(app_id=app_id, name=name))


@events_cli.command("relay")
def events_relay() -> None:
    """Move committed server-side events from the outbox into the event store (the server does this itself)."""
    from huoli.events.service import relay_outbox

    with runtime() as rt:
        out.print(f"relayed {relay_outbox(factory=rt.sessions, writer=rt.writer)} events")


@demo_cli.command("generate")
def demo_generate(
    users: Annotated[int, typer.Option(min=1, help="Users acquired over the window.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Local days in the window.")] = 30,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same data.")] = 42,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write Parquet here instead of loading it.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes (default: CPU count).")] = None,
    activity: Annotated[
        float,
        typer.Option(
            help="How often users come back, 0–1 (1: ~150 events per user over 60 days; 0.04: ~34). "
            "Needs --out: the demo app keeps the default."
        ),
    ] = 1.0,
    end_date: Annotated[
        datetime | None,
        typer.Option(
            "--end-date",
            formats=["%Y-%m-%d"],
            help="Last day of the history (first run only; default: yesterday in the app's timezone).",
        ),
    ] = None,
) -> None:
    """Generate a deterministic, realistic event history (Parquet; loaded into the demo app unless --out)."""
    from huoli.demo import service as demo
    from huoli.demo.generator import DemoSpec, write_parquet_parallel

    if not 0.0 < activity <= 1.0:
        raise fail("--activity must be in (0, 1]")
    if out_dir is None and activity != 1.0:
        raise fail("--activity needs --out (the demo app is generated with the default mix)")
    end = end_date.date() if end_date else None
    spec = guarded(
        lambda: (
            DemoSpec(users=users, days=days, seed=seed, activity=activity)
            if end is None
            else DemoSpec(users=users, days=days, seed=seed, activity=activity, end_date=end)
        )
    )
    if out_dir is not None:
        result = write_parquet_parallel(spec, out_dir, workers=workers)
        rate = result.events / result.seconds if result.seconds else 0.0
        out.print(
            f"{result.events:,} events in {len(result.files)} files under {out_dir} ({rate:,.0f} events/s)"
        )
        return
    with runtime() as rt:
        state = demo.ensure_demo(rt, users=users, days=days, seed=seed, end_date=end)
        out.print(f"demo app {state.app_id!r}: {state.events:,} events; keys in {state.keys_file}")


@demo_cli.command("run")
def demo_run(
    users: Annotated[int, typer.Option(min=1, help="Users in the demo history (first run only).")] = 20_000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days of history (first run only).")] = 30,
    seed: Annotated[int, typer.Option(min=0, help="Generator seed (first run only).")] = 42,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")] = True,
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    end_date: Annotated[
        datetime | None,
        typer.Option(
            "--end-date",
            formats=["%Y-%m-%d"],
            help="Last day of the history (first run only; default: yesterday in the app's timezone).",
        ),
    ] = None,
) -> None:
    """Set up the demo app (once), load its history (once), then serve on http://127.0.0.1:8000."""
    from huoli.demo import service as demo
    from huoli.demo.wechat import DemoWeChat

    # Demo only: a fake WeChat on 127.0.0.1 in this process, and this process's (and its workers') WeChat
    # calls sent to it, so the mini-program can log in to the demo app (docs/demo.md).
    wechat = guarded(lambda: DemoWeChat(demo.wechat_keys(load_settings())).start())
    os.environ.update(wechat.environ())
    settings = load_settings()
    with runtime() as rt:
        end = end_date.date() if end_date else None
        state = guarded(
            lambda: demo.ensure_demo(rt, users=users, days=days, seed=seed, end_date=end, wechat=wechat)
        )
        verb = "generated and loaded" if state.generated else "reused"
        out.print(f"demo app [bold]{state.app_id}[/]: {state.events:,} events ({verb})")
        out.print(f"API keys (owner / operator / analyst) are in {state.keys_file}")
        staff_file = state.keys_file.parent / "staff.json"
        if staff_file.exists():
            out.print(
                f"or sign in to the console as a person: {json.loads(staff_file.read_text())['username']}"
                f" (password in {staff_file})"
            )
        out.print(
            f"demo-only WeChat (a fake at {wechat.url}, in this process): any wx.login code logs in to the "
            "demo app as the demo shopper; the failed group's refund was paid through its WeChat Pay merchant",
            soft_wrap=True,
            highlight=False,
        )
        # The history's own days (it ends yesterday unless --end-date): point every tool at its last weeks.
        import datetime as dt

        assert state.start_date is not None and state.end_date is not None
        first, last = state.start_date, state.end_date
        week = f"{last.isocalendar().year}-W{last.isocalendar().week:02d}"
        out.print(
            f"the history runs {first} – {last} and stagnates in its last third; try:\n"
            f"  huoli diagnose --app demo --end {last}\n"
            f"  huoli report --app demo --week {week} --out var/demo/reports\n"
            f"  huoli metrics retention --app demo --start {first} --end {last}",
            soft_wrap=True,
            highlight=False,
        )
        if not serve_api:
            return

        h, p = host or settings.host, port or settings.port
        out.print(f"serving http://{h}:{p}  — OpenAPI docs at http://{h}:{p}/docs ; Ctrl-C to stop")
        out.print(
            f"console: http://{h}:{p}/console/#/dashboard?start={max(first, last - dt.timedelta(days=29))}"
            f"&end={last}&compare=1  (sign in with the owner key: {state.keys['owner']})",
            soft_wrap=True,
            highlight=False,
        )
        out.print(
            f"try: curl -H 'Authorization: Bearer {state.keys['analyst']}' http://{h}:{p}/admin/events/summary"
            f"?start={first}T00:00:00%2B08:00",
            soft_wrap=True,
            highlight=False,
        )
        listen_and_serve(settings, rt, h, p)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""`make demo`: one demo app with keys and a deterministic event history, created once and then reused."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.audit import service as audit
from huoli.db import unit_of_work
from huoli.demo import state
from huoli.demo.generator import GENERATOR_VERSION, DemoSpec, write_parquet_parallel
from huoli.demo.wechat import DemoKeys, DemoWeChat, load_keys
from huoli.events.importer import ImportResult, import_file, load_mapping
from huoli.runtime import Runtime
from huoli.settings import Settings
from huoli.staff import service as staff

DEMO_APP_ID = "demo"


@dataclass(frozen=True)
class DemoState:
    app_id: str
    keys_file: Path
    keys: dict[str, str]
    events: int
    generated: bool
    imported: ImportResult | None
    start_date: dt.date | None = None  # the history's first and last local days (None when reused)
    end_date: dt.date | None = None
    summary: state.StateSummary | None = None
    backup: Path | None = None  # the backup taken of the finished demo (docs/reliability.md#backups)
    seconds: float = 0.0


def demo_dir(rt: Runtime) -> Path:
    return rt.settings.data_dir / "demo"


def wechat_keys(settings: Settings) -> DemoKeys:
    """The demo's fake WeChat credentials (<data_dir>/demo/wechat.json, made on the first run)."""
    return load_keys(settings.data_dir / "demo" / "wechat.json")


def _fake(rt: Runtime, wechat: DemoWeChat | None) -> AbstractContextManager[DemoWeChat]:
    """The running fake `huoli demo run` serves with, else one just for this build."""
    return nullcontext(wechat) if wechat is not None else DemoWeChat(wechat_keys(rt.settings))


def ensure_app_and_keys(rt: Runtime, *, app_id: str = DEMO_APP_ID) -> tuple[Path, dict[str, str]]:
    """The demo app and one key per role; keys are written once to <data_dir>/demo/keys.json (mode 600)."""
    keys_file = demo_dir(rt) / "keys.json"
    with unit_of_work(rt.sessions) as db:
        if db.get(apps.App, app_id) is None:
            apps.create(
                db=db, app_in=AppCreate(id=app_id, name="Demo shop 活力小铺", timezone=rt.settings.timezone)
            )
            # The audit trail starts with who set the app up, as `huoli apps create` records it.
            audit.record(
                db,
                app_id=app_id,
                actor=audit.Actor.cli(),
                action="create app",
                at=rt.clock(),
                target={"app_id": app_id},
                request={"source": "huoli demo run"},
            )
    if keys_file.exists():
        ensure_staff_owner(rt, app_id=app_id)
        return keys_file, dict(json.loads(keys_file.read_text()))
    keys: dict[str, str] = {}
    with unit_of_work(rt.sessions, app_id=app_id) as db:
        for role in Role:
            row, key = apps.issue_key(
                db=db, app_id=app_id, key_in=ApiKeyCreate(name=f"demo-{role.value}", role=role)
            )
            keys[role.value] = key
            audit.record(
                db,
                app_id=app_id,
                actor=audit.Actor.cli(),
                action="create key",
                at=rt.clock(),
                target={"key_id": row.id, "role": role.value},
                request={"source": "huoli demo run"},
            )
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(keys, indent=2))
    keys_file.chmod(0o600)
    ensure_staff_owner(rt, app_id=app_id)
    return keys_file, keys


DEMO_STAFF = "demo-owner"


def ensure_staff_owner(rt: Runtime, *, app_id: str = DEMO_APP_ID) -> Path:
    """A person who owns the demo app, to sign in with a password (and see the Team page with someone on it);
    the password is made once and kept in <data_dir>/demo/staff.json (mode 600)."""
    staff_file = demo_dir(rt) / "staff.json"
    if staff_file.exists():
        return staff_file
    password = secrets.token_urlsafe(12)
    now = rt.clock()
    with unit_of_work(rt.sessions, app_id=app_id) as db:
        owner = staff.add_member(
            db, app_id=app_id, username=DEMO_STAFF, password=password, role=Role.owner, now=now
        )
        # An invitation not yet accepted, as a shop inviting its store manager would leave one.
        staff.invite(db, role=Role.operator, note="店长小王 / store manager", by=owner.id, now=now)
        audit.record(
            db,
            app_id=app_id,
            actor=audit.Actor.cli(),
            action="create staff owner",
            at=now,
            request={"username": DEMO_STAFF, "source": "huoli demo run"},
        )
    staff_file.parent.mkdir(parents=True, exist_ok=True)
    staff_file.write_text(json.dumps({"username": DEMO_STAFF, "password": password}, indent=2))
    staff_file.chmod(0o600)
    return staff_file


def generate_files(spec: DemoSpec, directory: Path, *, workers: int | None = None) -> list[Path]:
    """Parquet parts for the spec, reused when a previous run completed them (a marker file says so)."""
    marker = directory / "_COMPLETE"
    if marker.exists():
        return sorted(directory.glob("part-*.parquet"))
    for stale in directory.glob("part-*.parquet"):
        stale.unlink()
    result = write_parquet_parallel(spec, directory, workers=workers)
    marker.write_text(json.dumps({"events": result.events, "seconds": round(result.seconds, 2)}))
    return list(result.files)


def default_end_date(rt: Runtime, tz: str) -> dt.date:
    """Yesterday in the app's timezone: the console opens on a full last day, never on an empty today."""
    return rt.clock().astimezone(ZoneInfo(tz)).date() - dt.timedelta(days=1)


def history_days(rt: Runtime, tz: str) -> tuple[dt.date | None, dt.date | None]:
    """The first and last local days of the demo's client events (what the console's dates should span)."""
    row = rt.store.query(
        "SELECT min(ts) AS first, max(ts) AS last FROM events WHERE app_id = ? AND source = 'client'",
        [DEMO_APP_ID],
    ).to_pylist()[0]
    zone = ZoneInfo(tz)
    first, last = row["first"], row["last"]
    return (first.astimezone(zone).date() if first else None, last.astimezone(zone).date() if last else None)


def ensure_demo(
    rt: Runtime,
    *,
    users: int,
    days: int,
    seed: int,
    end_date: dt.date | None = None,
    members: int = state.MEMBERS,
    backup: bool = True,
    wechat: DemoWeChat | None = None,
) -> DemoState:
    """The demo app with its history ending on `end_date` (default yesterday) and the operational state the
    services made of it (docs/demo.md); built once: a second call finds the events and reuses everything.
    The app's WeChat login and Pay merchant are the demo fake's (`wechat`, else one started for the build)."""
    t0 = time.perf_counter()
    keys_file, keys = ensure_app_and_keys(rt)
    existing = rt.store.count(app_id=DEMO_APP_ID)
    app = rt.app_cache.get(DEMO_APP_ID)
    if existing:
        # A demo built before the fake existed gets its login and merchant, and its owed refund paid.
        with _fake(rt, wechat) as fake:
            state.configure_wechat(rt, DEMO_APP_ID, fake.keys, rt.clock())
            state.pay_refunds(rt, DEMO_APP_ID, fake.url, rt.clock())
        first, last = history_days(rt, app.timezone)
        return DemoState(
            DEMO_APP_ID,
            keys_file,
            keys,
            existing,
            generated=False,
            imported=None,
            start_date=first,
            end_date=last,
        )
    end = end_date or default_end_date(rt, app.timezone)
    spec = DemoSpec(users=users, days=days, seed=seed, end_date=end, app_id=DEMO_APP_ID, tz=app.timezone)
    directory = demo_dir(rt) / f"events-v{GENERATOR_VERSION}-u{users}-d{days}-s{seed}-e{end.isoformat()}"
    files = generate_files(spec, directory)
    parts = str(directory / "part-*.parquet")
    tz = ZoneInfo(app.timezone)
    end_at = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    facts, first_seen, cast = state.read_facts(
        parts, recent_since=end_at - dt.timedelta(days=state.LIVE_DAYS), members=members
    )
    client = state.write_client_events(parts, directory / f"client-m{members}.parquet", cast)
    result = (
        import_file(
            store=rt.store,
            path=client,
            mapping=load_mapping("huoli_parquet"),
            app_id=DEMO_APP_ID,
            now=rt.clock(),
        )
        if files
        else None
    )
    with _fake(rt, wechat) as fake:
        inp = state.BuildInput(
            parts=parts,
            start=dt.datetime.combine(spec.start_date, dt.time(), tzinfo=tz),
            end=end_at,
            # An explicit end date far in the past gets its "today" the morning after it, so the live state and
            # the history stay next to each other.
            now=min(rt.clock(), dt.datetime.combine(end + dt.timedelta(days=1), dt.time(10), tzinfo=tz)),
            wechat=(fake.keys, fake.url),
        )
        summary = state.build(rt, app, inp, facts=facts, first_seen=first_seen)
    taken = state.take_backup(rt, rt.clock()) if backup else None
    return DemoState(
        DEMO_APP_ID,
        keys_file,
        keys,
        rt.store.count(app_id=DEMO_APP_ID),
        generated=True,
        imported=result,
        start_date=spec.start_date,
        end_date=end,
        summary=summary,
        backup=taken,
        seconds=time.perf_counter() - t0,
    )

"""`make demo`: one demo app with keys and a deterministic event history, created once and then reused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.db import unit_of_work
from huoli.demo.generator import DemoSpec, write_parquet_parallel
from huoli.events.importer import ImportResult, import_file, load_mapping
from huoli.runtime import Runtime

DEMO_APP_ID = "demo"


@dataclass(frozen=True)
class DemoState:
    app_id: str
    keys_file: Path
    keys: dict[str, str]
    events: int
    generated: bool
    imported: ImportResult | None


def demo_dir(rt: Runtime) -> Path:
    return rt.settings.data_dir / "demo"


def ensure_app_and_keys(rt: Runtime, *, app_id: str = DEMO_APP_ID) -> tuple[Path, dict[str, str]]:
    """The demo app and one key per role; keys are written once to <data_dir>/demo/keys.json (mode 600)."""
    keys_file = demo_dir(rt) / "keys.json"
    with unit_of_work(rt.sessions) as db:
        if db.get(apps.App, app_id) is None:
            apps.create(
                db=db, app_in=AppCreate(id=app_id, name="Demo shop 活力小铺", timezone=rt.settings.timezone)
            )
    if keys_file.exists():
        return keys_file, dict(json.loads(keys_file.read_text()))
    keys: dict[str, str] = {}
    with unit_of_work(rt.sessions, app_id=app_id) as db:
        for role in Role:
            _, key = apps.issue_key(
                db=db, app_id=app_id, key_in=ApiKeyCreate(name=f"demo-{role.value}", role=role)
            )
            keys[role.value] = key
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(keys, indent=2))
    keys_file.chmod(0o600)
    return keys_file, keys


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


def ensure_demo(rt: Runtime, *, users: int, days: int, seed: int) -> DemoState:
    keys_file, keys = ensure_app_and_keys(rt)
    existing = rt.store.count(app_id=DEMO_APP_ID)
    if existing:
        return DemoState(DEMO_APP_ID, keys_file, keys, existing, generated=False, imported=None)
    spec = DemoSpec(users=users, days=days, seed=seed, app_id=DEMO_APP_ID, tz=rt.settings.timezone)
    directory = demo_dir(rt) / f"events-u{users}-d{days}-s{seed}"
    files = generate_files(spec, directory)
    mapping = load_mapping("huoli_parquet")
    pattern = directory / "part-*.parquet"
    result = (
        import_file(store=rt.store, path=pattern, mapping=mapping, app_id=DEMO_APP_ID, now=rt.clock())
        if files
        else None
    )
    return DemoState(
        DEMO_APP_ID, keys_file, keys, rt.store.count(app_id=DEMO_APP_ID), generated=True, imported=result
    )

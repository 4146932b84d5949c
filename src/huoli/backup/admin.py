"""What the admin API, the console and the backup.create job do with backups: create online, verify and
remember the outcome, list with that outcome, prune to HUOLI_BACKUP_KEEP."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huoli.backup import service
from huoli.backup.service import Backup, BackupError
from huoli.errors import Conflict, NotFound
from huoli.fileperms import FILE_MODE, mkdir_private
from huoli.settings import Settings

if TYPE_CHECKING:
    from huoli.runtime import Runtime

# Verification outcomes live beside the backups, not inside them (a backup's files are what its manifest lists).
STATUS_DIR = ".verified"
_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,99}$")


def unsupported(exc: BackupError) -> Conflict:
    return Conflict(exc.message, code=exc.code, details=exc.details)


def root(settings: Settings) -> Path:
    """The backups directory; Conflict when the deployment's stores are PostgreSQL / ClickHouse."""
    try:
        service.sources(settings)
    except BackupError as exc:
        raise unsupported(exc) from None
    return service.default_root(settings)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _status_file(base: Path, name: str) -> Path:
    return base / STATUS_DIR / f"{name}.json"


def record(base: Path, name: str, *, ok: bool, problems: list[str], at: datetime) -> dict[str, Any]:
    status = {"ok": ok, "at": _stamp(at), "problems": problems[:50]}
    mkdir_private(base / STATUS_DIR)
    path = _status_file(base, name)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(status, fh)
    os.replace(tmp, path)
    return status


def status(base: Path, name: str) -> dict[str, Any] | None:
    try:
        found = json.loads(_status_file(base, name).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def describe(base: Path, b: Backup) -> dict[str, Any]:
    m = b.manifest
    return {
        "name": b.path.name,
        "created_at": b.created_at,
        "bytes": b.total_bytes,
        "events": b.events,
        "apps": len(m.get("events", {}).get("by_app", {})),
        "mode": m.get("mode", "offline"),
        "seconds": m.get("seconds"),
        "huoli_version": m.get("huoli_version"),
        "verified": status(base, b.path.name),
    }


def find(settings: Settings, name: str) -> Path:
    base = root(settings)
    path = base / name
    if not _NAME.match(name) or not (path / service.MANIFEST).is_file():
        raise NotFound(
            f"no backup {name!r} in {base}", details=[{"field": "name", "message": "unknown backup"}]
        )
    return path


def verify(settings: Settings, name: str, *, now: datetime) -> dict[str, Any]:
    """Check a backup's files against its manifest and remember the outcome (a damaged backup is a result)."""
    path = find(settings, name)
    try:
        checked = service.verify(path)
        outcome = record(path.parent, name, ok=True, problems=[], at=now)
    except BackupError as exc:
        problems = [str(d) for d in exc.details] if exc.details else [exc.message]
        outcome = record(path.parent, name, ok=False, problems=[exc.message, *problems], at=now)
        checked = None
    listed = describe(path.parent, checked) if checked else {"name": name, "verified": outcome}
    return {**listed, "verified": outcome}


def listing(settings: Settings) -> list[dict[str, Any]]:
    base = root(settings)
    return [describe(base, b) for b in reversed(service.list_backups(base))]


def create_and_prune(rt: Runtime, *, now: datetime) -> dict[str, object]:
    """The backup.create job: online backup, verified at once, then the oldest beyond HUOLI_BACKUP_KEEP go."""
    settings = rt.settings
    backup = service.create_online(rt, now=now)
    base = backup.path.parent
    service.verify(backup.path)
    record(base, backup.path.name, ok=True, problems=[], at=rt.clock())
    pruned: list[str] = []
    if settings.backup_keep:
        for old in service.prune(base, keep=settings.backup_keep):
            pruned.append(old.path.name)
            _status_file(base, old.path.name).unlink(missing_ok=True)
    online = backup.manifest.get("online", {})
    return {
        "backup": backup.path.name,
        "events": backup.events,
        "bytes": backup.total_bytes,
        "seconds": backup.manifest.get("seconds"),
        "duckdb_snapshot_s": online.get("duckdb_snapshot_s"),
        "pruned": pruned,
    }

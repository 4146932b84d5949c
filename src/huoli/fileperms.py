"""Private files: huoli's data directory is 0700 and the files it creates there 0600, whatever the umask.

The stores hold every user's events, the operators' key hashes and the secret keys; a shared machine's other
accounts must not read them. Only what huoli creates is changed: an existing directory keeps its mode (it may
be a parent the operator chose, such as /srv).
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def mkdir_private(path: Path) -> None:
    """Create `path` and its missing parents as 0700 (mkdir's mode is masked by the umask, so chmod after)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for p in missing:
        p.chmod(DIR_MODE)


def _written_beside(path: Path, data: bytes) -> Path:
    """A new 0600 temporary file next to `path` holding `data`, synced: the caller links or renames it."""
    mkdir_private(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def create_private(path: Path, data: bytes) -> bool:
    """Create `path` as 0600 holding `data`, atomically; False if it already exists (left as it is).

    Written to a temporary file and hard-linked into place: of two processes generating the same key file at
    once, one wins and the other reads the winner's whole file, never an empty or partial one.
    """
    tmp = _written_beside(path, data)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def open_private_append(path: Path) -> int:
    """A file descriptor appending to `path`, created 0600 if missing (the ingestion journal's segments)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)


def replace_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with a 0600 file holding `data` (a reader sees the old or the new file)."""
    tmp = _written_beside(path, data)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

"""Process caches owned by one runtime, not by a module.

A module-level cache keyed by `id(runtime.store)` outlives its runtime, and a later runtime can be given the
same id (CPython reuses addresses): it would then read the first one's entries. Here each runtime holds its
caches, made on first use by name and dropped with it; a service that has only a session reaches them
through the session factory, which carries the runtime's `Caches` in its `info`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

T = TypeVar("T")
INFO_KEY = "huoli_caches"


class Caches:
    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str, factory: Callable[[], T]) -> T:
        """The cache called `name`, made by `factory` the first time (once, even when threads race)."""
        item = self._items.get(name)
        if item is None:
            with self._lock:
                item = self._items.get(name)
                if item is None:
                    item = self._items[name] = factory()
        return cast(T, item)

    def names(self) -> list[str]:
        return sorted(self._items)

    def clear(self) -> None:
        """Forget every cache (tests; `huoli` never needs to: each cache bounds its own staleness)."""
        with self._lock:
            self._items.clear()


def of(db: Session) -> Caches:
    """The caches of the runtime whose session factory opened `db`."""
    caches = db.info.get(INFO_KEY)
    if not isinstance(caches, Caches):
        raise RuntimeError(
            "this session was not opened by a runtime's session factory (db.make_session_factory)"
        )
    return caches

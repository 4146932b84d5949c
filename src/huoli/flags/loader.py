"""First-visit reads of GET /v1/flags, coalesced: one reader thread, one IN-query per batch of users.

A user not in the per-user state cache needs their preferences and sticky buckets read before evaluation.
One thread hop and two statements per request made first visits queue behind each other (40 worker threads
trading the GIL with the event loop); here every request that misses during a loop turn, or while the
previous batch is being read, joins the next batch, so the cost per user falls as the load rises.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from huoli.flags import service

Wanted = tuple[str, str | None, str | None]  # (app_id, user_id, unit)


@dataclass
class _LoopState:
    waiting: list[tuple[Wanted, asyncio.Future[None]]] = field(default_factory=list)
    draining: bool = False
    task: asyncio.Task[None] | None = None  # held so the running drain is not garbage-collected


class StateLoader:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="huoli-flags-reader")
        # Futures belong to one event loop; a process may run several (tests), each drains its own batches.
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    async def ensure(self, app_id: str, user_id: str | None, unit: str | None) -> None:
        """Return once the app's definitions and this user's state are cached (or the read failed: raises)."""
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState()
        fut: asyncio.Future[None] = loop.create_future()
        state.waiting.append(((app_id, user_id, unit), fut))
        if not state.draining:
            state.draining = True
            state.task = loop.create_task(self._drain(loop, state))
        await fut

    async def _drain(self, loop: asyncio.AbstractEventLoop, state: _LoopState) -> None:
        try:
            await asyncio.sleep(0)  # requests parsed in this same loop turn join the first batch
            while state.waiting:
                batch, state.waiting = state.waiting, []
                try:
                    await loop.run_in_executor(self._executor, self._load, [w for w, _ in batch])
                except Exception as exc:  # every waiter sees the failure (the route answers 5xx), none hangs
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                else:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
        finally:
            state.draining = False

    def _load(self, wanted: list[Wanted]) -> None:
        by_app: dict[str, list[tuple[str | None, str | None]]] = {}
        for app_id, user_id, unit in wanted:
            by_app.setdefault(app_id, []).append((user_id, unit))
        cache = service.cache_for(self._factory)
        for app_id, pairs in by_app.items():
            cache.get(self._factory, app_id)
            service.load_states(self._factory, app_id, pairs)


_loaders: weakref.WeakKeyDictionary[sessionmaker[Session], StateLoader] = weakref.WeakKeyDictionary()


def loader_for(factory: sessionmaker[Session]) -> StateLoader:
    loader = _loaders.get(factory)
    if loader is None:
        loader = _loaders[factory] = StateLoader(factory)
    return loader

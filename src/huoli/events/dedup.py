"""An in-memory index of recently stored event keys, so live ingestion dedups without scanning the log.

Invariant: every stored event whose ts is at or after `floor_us` has its key hash here. A miss therefore
proves the event is new; a hit only says "maybe" (64-bit hashes can collide) and is confirmed against the
store. Events older than the floor (offline queues, imports) are checked against the store directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.int64]
_SEP = "\x1f"


def key_hashes(app_ids: Sequence[str], event_ids: Sequence[str]) -> Keys:
    """Process-local 64-bit hashes of (app_id, event_id); the index is rebuilt at start, so salting is fine."""
    return np.fromiter(
        (hash(a + _SEP + e) for a, e in zip(app_ids, event_ids, strict=True)), np.int64, len(app_ids)
    )


class RecentKeys:
    """One Python set for membership (a probe is a hash lookup, ~40 ns), per-bucket lists to forget old keys.

    Measured against sorted NumPy arrays per bucket: at 2.4M keys a 1,000-key probe took 4–6 ms there
    (cache misses of binary search) and ~0.05 ms here; memory is ~70 bytes a key, bounded by rate × horizon.
    """

    def __init__(self, *, horizon_us: int, bucket_us: int = 10_000_000) -> None:
        self.horizon_us = horizon_us
        self.bucket_us = bucket_us
        self.floor_us = 0
        self._members: set[int] = set()
        self._buckets: dict[int, list[int]] = {}  # bucket index -> keys added with a ts in it

    def __len__(self) -> int:
        return len(self._members)

    def reset(self, *, now_us: int, keys: Keys, ts_us: npt.NDArray[np.int64]) -> None:
        """Start over from the store's own rows with ts at or after the floor for `now_us`."""
        self._members.clear()
        self._buckets.clear()
        self.floor_us = self.floor_for(now_us)
        self.add(keys, ts_us)

    def floor_for(self, now_us: int) -> int:
        return ((now_us - self.horizon_us) // self.bucket_us) * self.bucket_us

    def advance(self, now_us: int) -> None:
        """Move the floor up with time; whole buckets below it are forgotten."""
        floor = self.floor_for(now_us)
        if floor <= self.floor_us:
            return
        self.floor_us = floor
        first = floor // self.bucket_us
        for index in [i for i in self._buckets if i < first]:
            self._members.difference_update(self._buckets.pop(index))

    def maybe_contains(self, keys: Keys) -> npt.NDArray[np.bool_]:
        members = self._members
        return np.fromiter((k in members for k in keys.tolist()), dtype=bool, count=len(keys))

    def add(self, keys: Keys, ts_us: npt.NDArray[np.int64]) -> None:
        recent = ts_us >= self.floor_us
        keys, ts_us = keys[recent], ts_us[recent]
        if not len(keys):
            return
        indices = ts_us // self.bucket_us
        for index in np.unique(indices).tolist():
            new = keys[indices == index].tolist()
            self._buckets.setdefault(index, []).extend(new)
            self._members.update(new)

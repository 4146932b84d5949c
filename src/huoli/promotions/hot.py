"""In-process caches for the promotion hot paths (秒杀 attempts, coupon validate + lock).

One `HotCache` per database engine (so two runtimes in one process, as in the tests, never share entries):

- definitions that do not change once created (a flash item with its session's window, a coupon template's
  discount terms), kept for `DEFINITION_TTL_S` and dropped at once when this process changes them;
- per flash item, the stock the database last reported, trusted for `STOCK_TTL_S` only to turn attempts
  away (never to admit one): a sold-out item answers `sold_out` without a database round trip, and stock
  given back (expiry, cancellation) is seen at once in this process and within `STOCK_TTL_S` in others.

The database stays the only thing that admits an attempt or locks a coupon, so a stale entry can only
make a refusal late or early by at most its TTL, never sell a unit twice.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFINITION_TTL_S = 60.0
STOCK_TTL_S = 1.0


@dataclass(frozen=True)
class FlashItemDef:
    """What an attempt needs to know about a flash item besides its stock (all fixed at creation)."""

    sku: str
    per_user_limit: int
    pay_window_s: int
    starts_at: datetime
    ends_at: datetime
    session_id: str = ""


@dataclass(frozen=True)
class TemplateTerms:
    """A coupon template's discount terms (fixed at creation but for the scope's unavailable items, which
    catalog_hooks changes and drops from this process's cache; other processes see it within the TTL)."""

    id: str
    kind: str
    amount_fen: int
    threshold_fen: int
    percent_off: int
    max_discount_fen: int | None
    scope: str
    scope_ids: frozenset[str]
    stackable: bool
    unavailable: frozenset[str] = frozenset()  # scoped items the catalog says can't be sold (catalog_hooks)


class HotCache:
    """Plain dicts: single reads and writes are atomic under the GIL, and a lost race only costs a reload."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._flash: dict[tuple[str, str], tuple[float, FlashItemDef]] = {}
        self._stock: dict[tuple[str, str], tuple[float, int]] = {}
        self._terms: dict[tuple[str, str], tuple[float, TemplateTerms]] = {}

    # -- flash items

    def flash_item(self, app_id: str, item_id: str) -> FlashItemDef | None:
        hit = self._flash.get((app_id, item_id))
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    def put_flash_item(self, app_id: str, item_id: str, d: FlashItemDef) -> None:
        self._flash[(app_id, item_id)] = (self._clock() + DEFINITION_TTL_S, d)

    def known_short(self, app_id: str, item_id: str, quantity: int) -> bool:
        """True when the database said less than `quantity` was left within the last STOCK_TTL_S."""
        hit = self._stock.get((app_id, item_id))
        return hit is not None and hit[0] > self._clock() and hit[1] < quantity

    def saw_stock(self, app_id: str, item_id: str, left: int) -> None:
        self._stock[(app_id, item_id)] = (self._clock() + STOCK_TTL_S, left)

    def stock_returned(self, app_id: str, item_id: str) -> None:
        self._stock.pop((app_id, item_id), None)

    # -- coupon templates

    def terms(self, app_id: str, template_id: str) -> TemplateTerms | None:
        hit = self._terms.get((app_id, template_id))
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    def put_terms(self, app_id: str, t: TemplateTerms) -> None:
        self._terms[(app_id, t.id)] = (self._clock() + DEFINITION_TTL_S, t)

    def forget_terms(self, app_id: str, template_id: str) -> None:
        self._terms.pop((app_id, template_id), None)


_caches: weakref.WeakKeyDictionary[Any, HotCache] = weakref.WeakKeyDictionary()


def for_bind(bind: Any) -> HotCache:
    """The cache of one engine (pass `session.get_bind()` or `runtime.engine`)."""
    cache = _caches.get(bind)
    if cache is None:
        cache = _caches.setdefault(bind, HotCache())
    return cache

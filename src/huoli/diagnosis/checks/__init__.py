"""The doctor's checks, one module per signal: each module registers its `Check` objects; the service runs
whatever is registered (`registered()`), in signal order. Ids, formulas and thresholds: docs/diagnosis.md."""

from __future__ import annotations

import importlib
import pkgutil

from huoli.diagnosis.checks.base import SIGNALS, Candidate, Check, Context, Signal

__all__ = ["SIGNALS", "Candidate", "Check", "Context", "Signal", "register", "registered"]

_REGISTRY: list[Check] = []
_NOT_SIGNALS = {"base"}  # modules of this package that hold no checks


def register(*checks: Check) -> None:
    """Add checks to the registry (a signal module does this on import); a check id is registered once."""
    known = {c.id for c in _REGISTRY}
    for c in checks:
        if c.signal not in SIGNALS:
            raise ValueError(f"check {c.id}: unknown signal {c.signal!r}")
        if c.id in known:
            raise ValueError(f"check {c.id} is registered twice")
        known.add(c.id)
        _REGISTRY.append(c)


def discover() -> None:
    """Import every signal module of this package (importing registers its checks)."""
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if m.name not in _NOT_SIGNALS:
            importlib.import_module(f"{__name__}.{m.name}")


def registered() -> list[Check]:
    """Every registered check, by signal (SIGNALS order), then in the order its module registered them."""
    discover()
    return sorted(_REGISTRY, key=lambda c: SIGNALS.index(c.signal))

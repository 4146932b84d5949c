"""Root-cause hints checks run alone (only this module's checks registered) find their injected signals and
stay quiet on a healthy app."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from huoli.diagnosis.checks import root_cause
from huoli.diagnosis.service import Diagnosis
from huoli.diagnosis.simulate import INJECTIONS

INJECT = frozenset(["stale", "slow", "deep", "silence", "retention"])


def test_root_cause_alone(alone: Callable[[ModuleType, frozenset[str]], Diagnosis]) -> None:
    d = alone(root_cause, INJECT)
    ids = {f.id for f in d.findings}
    required = set().union(*(INJECTIONS[i]["required"] for i in INJECT))
    prefix = d.checked[0].split(".")[0] + "." if d.checked else ""
    assert required <= ids, (ids, d.skipped)
    assert all(f.signal == "root_cause" for f in d.findings)
    assert all(c.startswith(prefix) for c in [*d.checked, *d.skipped]), (d.checked, d.skipped)
    healthy = alone(root_cause, frozenset())
    assert healthy.findings == [] and healthy.checked, healthy.skipped

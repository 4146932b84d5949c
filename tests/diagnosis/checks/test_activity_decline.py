"""Activity decline checks run alone (only this module's checks registered) find their injected signals and
stay quiet on a healthy app."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from huoli.diagnosis.checks import activity_decline
from huoli.diagnosis.service import Diagnosis
from huoli.diagnosis.simulate import INJECTIONS

INJECT = frozenset(["activity_decline"])


def test_activity_decline_alone(alone: Callable[[ModuleType, frozenset[str]], Diagnosis]) -> None:
    d = alone(activity_decline, INJECT)
    ids = {f.id for f in d.findings}
    required = set().union(*(INJECTIONS[i]["required"] for i in INJECT))
    prefix = d.checked[0].split(".")[0] + "." if d.checked else ""
    assert required <= ids, (ids, d.skipped)
    assert all(f.signal == "activity_decline" for f in d.findings)
    assert all(c.startswith(prefix) for c in [*d.checked, *d.skipped]), (d.checked, d.skipped)
    healthy = alone(activity_decline, frozenset())
    assert healthy.findings == [] and healthy.checked, healthy.skipped

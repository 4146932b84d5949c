"""The registry: every signal module registers its checks once, in signal order; the service runs whatever
is registered — a check added to the registry runs, one taken out does not."""

from __future__ import annotations

import datetime as dt

import pytest

from huoli.analytics.engines import DuckDBEngine
from huoli.diagnosis import checks as registry
from huoli.diagnosis.checks import SIGNALS, Candidate, Check, Context, register, registered
from huoli.diagnosis.service import diagnose_engine
from huoli.diagnosis.simulate import Scenario, generate


def test_every_signal_has_a_module_and_ids_are_unique() -> None:
    checks = registered()
    assert [c.signal for c in checks] == sorted((c.signal for c in checks), key=SIGNALS.index)
    assert {c.signal for c in checks} == set(SIGNALS)
    assert len({c.id for c in checks}) == len(checks) == 22
    for c in checks:
        assert c.reads and all(c.reads), c.id
        # A check lives in the module named after its signal.
        assert type(c).__module__ == f"huoli.diagnosis.checks.{c.signal}", c.id
    assert registered() == checks  # discovering again registers nothing twice


def test_register_refuses_a_duplicate_id_and_an_unknown_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", list(registered()))
    dup = registered()[0]
    with pytest.raises(ValueError, match="registered twice"):
        register(dup)

    class Odd(Check):
        id = "odd.check"
        signal = "mood"  # type: ignore[assignment]
        reads = ("nothing",)

    with pytest.raises(ValueError, match="unknown signal"):
        register(Odd())


class Always(Check):
    """A check that needs no data: proves the service runs what is registered, whatever it is."""

    id = "root_cause.test_always"
    signal = "root_cause"
    reads = ("nothing",)

    def run(self, ctx: Context) -> list[Candidate]:
        return [
            Candidate(
                id=self.id,
                signal=self.signal,
                title={"zh": "测试", "en": "test"},
                metric="none",
                current=1.0,
                baseline=None,
                evidence={"test": "always", "statistic": 1, "p_value": 0.0, "n": 1},
                gate=True,
                shortfall=1.0,
                users_affected=1,
                drilldown={"metric": "activity", "requests": []},
            )
        ]


def test_the_service_runs_whatever_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = Scenario(seed=2)
    engine = DuckDBEngine.from_arrow(generate(sc))
    kept = [c for c in registered() if c.signal == "interaction_near_zero"]
    monkeypatch.setattr(registry, "_REGISTRY", kept)
    register(Always())
    d = diagnose_engine(engine, sc.app_id, tz=sc.tz, now=sc.now, end=sc.end)
    assert d.checked == [
        "interaction.comment_rate",
        "interaction.share_rate",
        "interaction.favorite_rate",
        "interaction.share_reflow",
        "root_cause.test_always",
    ]
    assert [f.id for f in d.findings] == ["root_cause.test_always"]
    assert d.end == dt.date(2026, 10, 31)

"""The scenario matrix: each signal injected alone is found, a healthy app raises nothing; precision and
recall over the matrix are computed and recorded (also by bench/diagnosis.py into docs/diagnosis.md)."""

from __future__ import annotations

import json
from pathlib import Path

from huoli.diagnosis.simulate import INJECTIONS, Run, score

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "diagnosis"


def test_every_injection_found_alone(matrix: list[Run]) -> None:
    assert len(matrix) >= 20
    for r in matrix:
        for name in r.scenario.inject:
            missing = INJECTIONS[name]["required"] - r.ids
            assert not missing, f"{name} (seed {r.scenario.seed}): missing {missing}; found {r.ids}"
            stray = r.ids - INJECTIONS[name]["required"] - INJECTIONS[name]["allowed"]
            assert not stray, f"{name} (seed {r.scenario.seed}): unrelated findings {stray}"


def test_healthy_baselines_raise_nothing(matrix: list[Run]) -> None:
    healthy = [r for r in matrix if not r.scenario.inject]
    assert len(healthy) >= 5
    for r in healthy:
        assert r.ids == set(), f"healthy seed {r.scenario.seed} raised {r.ids}"
        # Every check family actually ran on the healthy data (nothing silently skipped into "healthy").
        assert len(r.diagnosis.checked) >= 20, r.diagnosis.skipped


def test_precision_and_recall(matrix: list[Run]) -> None:
    s = score(matrix)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "matrix.json").write_text(json.dumps(s, indent=2))
    print(f"\ndiagnosis scenario matrix: {s}")
    assert s["recall"] == 1.0
    assert s["precision"] == 1.0


def test_findings_are_complete(matrix: list[Run]) -> None:
    """Every finding carries the contract's fields with usable values."""
    seen = 0
    for r in matrix:
        d = r.diagnosis.to_dict()
        json.dumps(d)  # JSON-safe
        assert d["current"][1] == r.scenario.end.isoformat()
        for f in d["findings"]:
            seen += 1
            assert f["id"] in d["checked"]
            assert f["severity"] in ("high", "medium", "low")
            assert f["title"]["zh"] and f["title"]["en"]
            assert f["playbooks"], f["id"]
            e = f["evidence"]
            assert e["test"] and 0 <= e["p_value"] <= e["p_adjusted"] <= e["fdr"] and e["significant"]
            assert f["users_affected"] >= 0
            assert f["drilldown"]["metric"] and f["drilldown"]["requests"]
    assert seen >= 11

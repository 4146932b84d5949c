"""Every row of ../shared/peers/gbstats-golden.md (gbstats 0.8.0), read from the file itself.

The golden file prints values rounded to its shown digits; each assertion checks our value rounds to the
printed one (|ours − printed| ≤ half a unit in the last printed digit, plus 1e-6).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from huoli.experiments.stats import (
    MeanStat,
    Moments,
    ProportionStat,
    bayesian_test,
    benjamini_hochberg,
    holm,
    moments,
    sequential_test,
    srm_p_value,
    welch_t_test,
)

GOLDEN = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "gbstats-golden.md"
NUM = r"[−-]?\d+(?:\.\d+)?(?:e[−-]?\d+)?"


def num(text: str) -> float:
    return float(text.replace("−", "-"))


def close(ours: float, printed: str) -> None:
    """`printed` as in the table: tolerance half a unit of its last digit (plus 1e-6)."""
    text = printed.replace("−", "-")
    mantissa = text.split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.split("e")[1]) if "e" in text else 0
    tol = 0.5 * 10 ** (exponent - decimals) + 1e-6 * (10**exponent if exponent < 0 else 1)
    assert abs(ours - num(printed)) <= tol, f"{ours} vs {printed}"


def parse_input(text: str, previous: Any) -> Moments:
    if text.strip() == "same":
        return previous
    m = re.search(rf"mean n=(\d+), Σ=({NUM}), Σ²=({NUM})", text)
    if m:
        return moments(MeanStat(int(m[1]), num(m[2]), num(m[3])))
    m = re.search(r"proportion (\d+)/(\d+)", text)
    assert m, text
    return moments(ProportionStat(int(m[2]), int(m[1])))


def table_rows() -> list[Any]:
    if not GOLDEN.is_file():
        pytest.fail(f"golden file not found at {GOLDEN}")
    rows, prev_a, prev_b, prev_test = [], None, None, ""
    for line in GOLDEN.read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| test") or line.startswith("|---"):
            continue
        test, a_text, b_text, result = (c.strip() for c in line.strip("|").split("|"))
        a, b = parse_input(a_text, prev_a), parse_input(b_text, prev_b)
        if test == "same, absolute":
            test = prev_test.replace("relative", "absolute")
        rows.append(pytest.param(test, a, b, result, id=test))
        prev_a, prev_b, prev_test = a, b, test
    assert len(rows) == 7, "the golden table changed shape"
    return rows


@pytest.mark.parametrize(("test", "a", "b", "result"), table_rows())
def test_golden_row(test: str, a: Moments, b: Moments, result: str) -> None:
    relative = "absolute" not in test
    if test.startswith("sequential"):
        tuning = num(re.search(r"N\*=(\d+)", test)[1])  # type: ignore[index]
        res = sequential_test(a, b, relative=relative, tuning=tuning)
    elif test.startswith("Bayesian"):
        res = bayesian_test(a, b, relative=relative)
    else:
        res = welch_t_test(a, b, relative=relative)
    lift = re.match(rf"(?:lift )?({NUM})", result)
    assert lift
    close(res.lift, lift[1])
    ci = re.search(rf"CI \(({NUM}), ({NUM})\)", result)
    assert ci
    close(res.ci[0], ci[1])
    close(res.ci[1], ci[2])
    if m := re.search(rf"\bp ({NUM})", result):
        assert res.p_value is not None
        close(res.p_value, m[1])
    if m := re.search(rf"se ({NUM})", result):
        close(res.se, m[1])
    if m := re.search(rf"chance to win ({NUM})", result):
        assert res.chance_to_win is not None
        close(res.chance_to_win, m[1])
    if m := re.search(rf"risk \[({NUM}), ({NUM})\]", result):
        assert res.risk is not None
        close(res.risk[0], m[1])
        close(res.risk[1], m[2])


def lists(pattern: str) -> list[tuple[list[str], list[str]]]:
    out = []
    for m in re.finditer(pattern, GOLDEN.read_text()):
        out.append(([x.strip() for x in m[1].split(",")], [x.strip() for x in m[2].split(",")]))
    return out


def test_golden_srm() -> None:
    found = re.findall(
        r"users \[(\d+), (\d+)\], weights \[([\d.]+), ([\d.]+)\] → p = ([\d.e−-]+)", GOLDEN.read_text()
    )
    assert len(found) == 2
    for a, b, wa, wb, p in found:
        close(srm_p_value([int(a), int(b)], [float(wa), float(wb)]), p)


def test_golden_holm() -> None:
    [(inputs, expected)] = lists(r"Holm–Bonferroni on \[([^\]]+)\] → \[([^\]]+)\]")
    for ours, printed in zip(holm([num(x) for x in inputs]), expected, strict=True):
        close(ours, printed)


def test_golden_benjamini_hochberg() -> None:
    [(inputs, expected)] = lists(r"Benjamini–Hochberg on \[([^\]]+)\] → \[([^\]]+)\]")
    for ours, printed in zip(benjamini_hochberg([num(x) for x in inputs]), expected, strict=True):
        close(ours, printed)

"""GrowthBook's language-agnostic SDK suite (../shared/peers/growthbook/cases.json), case by case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from huoli.flags.assignment import bucket_ranges, choose_variation, equal_weights, gb_hash, in_namespace
from huoli.flags.conditions import compile_condition, eval_condition
from huoli.flags.evaluator import Context, Evaluator, query_string_override, sticky_docs_for

CASES_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "growthbook" / "cases.json"
CASES: dict[str, Any] = json.loads(CASES_PATH.read_text()) if CASES_PATH.is_file() else {}

# Cases of features huoli does not implement (see docs/experiments.md, "GrowthBook compatibility").
UNSUPPORTED_PREFIXES = ("CB rule",)


def cases(category: str) -> list[Any]:
    if not CASES:
        pytest.fail(f"peer suite not found at {CASES_PATH}")
    return [
        pytest.param(*c, id=f"{i}:{c[0] if isinstance(c[0], str) else c[:2]}")
        for i, c in enumerate(CASES[category])
    ]


def ctx_from(spec: dict[str, Any], sticky: list[Any] | None = None) -> Context:
    attrs = spec.get("attributes") or {}
    return Context(
        attributes=attrs,
        features=spec.get("features") or {},
        forced_variations=spec.get("forcedVariations") or {},
        saved_groups=spec.get("savedGroups") or {},
        enabled=spec.get("enabled", True),
        qa_mode=spec.get("qaMode", False),
        url=spec.get("url", ""),
        sticky_docs=None if sticky is None else sticky_docs_for(attrs, sticky),
    )


@pytest.mark.parametrize(("seed", "value", "version", "expected"), cases("hash"))
def test_hash(seed: str, value: str, version: int, expected: float | None) -> None:
    assert gb_hash(seed, value, version) == expected


@pytest.mark.parametrize(("name", "args", "expected"), cases("getBucketRange"))
def test_get_bucket_range(name: str, args: list[Any], expected: list[list[float]]) -> None:
    got = bucket_ranges(*args)
    assert len(got) == len(expected)
    for (a, b), (x, y) in zip(got, expected, strict=True):
        assert a == pytest.approx(x, abs=1e-9) and b == pytest.approx(y, abs=1e-9)


@pytest.mark.parametrize(("name", "n", "ranges", "expected"), cases("chooseVariation"))
def test_choose_variation(name: str, n: float, ranges: list[list[float]], expected: int) -> None:
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize(("n", "expected"), cases("getEqualWeights"))
def test_get_equal_weights(n: int, expected: list[float]) -> None:
    assert equal_weights(n) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize(("name", "user_id", "namespace", "expected"), cases("inNamespace"))
def test_in_namespace(name: str, user_id: str, namespace: list[Any], expected: bool) -> None:
    assert in_namespace(user_id, namespace) is expected


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{i}:{c[0]}") for i, c in enumerate(CASES.get("evalCondition", []))]
)
def test_eval_condition(case: list[Any]) -> None:
    _, condition, attributes, expected, *groups = case
    assert eval_condition(attributes, condition, groups[0] if groups else {}) is expected


@pytest.mark.parametrize(("name", "key", "url", "n", "expected"), cases("getQueryStringOverride"))
def test_query_string_override(name: str, key: str, url: str, n: int, expected: int | None) -> None:
    assert query_string_override(key, url, n) == expected


@pytest.mark.parametrize(("name", "context", "experiment", "value", "in_exp", "hash_used"), cases("run"))
def test_run(
    name: str, context: dict[str, Any], experiment: dict[str, Any], value: Any, in_exp: bool, hash_used: bool
) -> None:
    res = Evaluator(ctx_from(context)).run(experiment)
    assert (res["value"], res["inExperiment"], res["hashUsed"]) == (value, in_exp, hash_used)


@pytest.mark.parametrize(("name", "context", "key", "expected"), cases("feature"))
def test_feature(name: str, context: dict[str, Any], key: str, expected: dict[str, Any]) -> None:
    if name.startswith(UNSUPPORTED_PREFIXES):
        pytest.skip("contextual bandits are not supported")
    assert Evaluator(ctx_from(context)).eval_feature(key) == expected


@pytest.mark.parametrize(
    ("name", "context", "docs", "key", "expected", "expected_docs"), cases("stickyBucket")
)
def test_sticky_bucket(
    name: str, context: dict[str, Any], docs: list[Any], key: str, expected: Any, expected_docs: Any
) -> None:
    ctx = ctx_from(context, docs)
    res = Evaluator(ctx).eval_feature(key)
    assert res.get("experimentResult") == expected
    assert ctx.sticky_docs == expected_docs


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{i}:{c[0]}") for i, c in enumerate(CASES.get("evalCondition", []))]
)
def test_compiled_condition_agrees(case: list[Any]) -> None:
    """The compiled fast path (used when serving flags) gives GrowthBook's answer on every condition case."""
    _, condition, attributes, expected, *groups = case
    if not isinstance(attributes, dict):
        pytest.skip("attributes are always an object when serving flags")
    assert compile_condition(condition)(attributes, groups[0] if groups else {}) is expected

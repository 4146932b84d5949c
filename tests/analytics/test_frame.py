"""The question every metric shares: filter values checked against the field they compare with, and days
inside what the local-day arithmetic can reach. Each case here used to fail inside the query, as a 500."""

from __future__ import annotations

from typing import Any

import pytest

from huoli.analytics.service import parse
from huoli.errors import ValidationFailed

from .conftest import Loader, frame
from .fixtures import at, ev, table

DAY = {"start": "2026-03-01", "end": "2026-03-01"}


def _refusal(metric: str, body: dict[str, Any]) -> list[dict[str, str]]:
    """The field errors of a request refused by validation (parse) or by the frame (field types)."""
    with pytest.raises(ValidationFailed) as exc:
        req = parse(metric, body)
        frame(None, body["start"], body["end"], **req.model_dump(exclude={"start", "end", "tz"}))
    return list(exc.value.details)


@pytest.mark.parametrize(
    ("flt", "field", "message"),
    [
        ({"field": "scene", "value": "abc"}, "filters[0].value", "scene is a number"),
        ({"field": "amount_fen", "op": "gt", "value": [1]}, "filters.0.value", "a string, number or boolean"),
        ({"field": "scene", "op": "in", "value": [1, "abc"]}, "filters[0].value", "scene is a number"),
        ({"field": "page", "value": {"a": 1}}, "filters.0.value", "a string, number or boolean"),
        ({"field": "page", "op": "in", "value": [[1]]}, "filters.0.value", "a list of strings, numbers"),
        ({"field": "scene", "op": "in", "value": [1, 2**70]}, "filters.0.value", "out of range"),
        ({"field": "scene", "value": True}, "filters[0].value", "scene is a number"),
    ],
)
def test_a_filter_value_must_fit_its_field(flt: dict[str, Any], field: str, message: str) -> None:
    details = _refusal("activity", DAY | {"filters": [flt]})
    assert any(d["field"] == field and message in d["message"] for d in details), details


def test_user_and_step_filters_are_checked_too() -> None:
    details = _refusal("activity", DAY | {"user_filters": [{"field": "first_scene", "value": "s"}]})
    assert details == [
        {"field": "user_filters[0].value", "message": "first_scene is a number: compare it with numbers"}
    ]
    step = {"event": "app_show", "filters": [{"field": "scene", "value": "s"}]}
    req: Any = parse("funnel", DAY | {"steps": [step, {"event": "x"}]})
    with pytest.raises(ValidationFailed) as exc:
        frame(None, DAY["start"], DAY["end"]).check_selector(req.steps[0], "steps[0]")
    assert exc.value.details[0]["field"] == "steps[0].filters[0].value"


@pytest.mark.parametrize("day", ["0001-01-01", "1969-12-31", "9999-12-31"])
def test_days_outside_the_local_day_arithmetic_are_refused(day: str) -> None:
    details = _refusal("activity", {"start": day, "end": day})
    assert {d["field"] for d in details} == {"start", "end"}, details


def test_text_fields_compare_with_numbers_booleans_and_mixed_lists(load: Loader) -> None:
    """Numbers compare numerically with text that holds one (other text never matches, where it used to
    fail the query), a boolean with the JSON text true/false, a mixed list as text."""
    props = ['{"n": "12"}', '{"n": "abc"}', '{"n": true}', '{"n": 3}', None]
    rows = [ev("page_view", f"u{i}", at("2026-03-01", f"1{i}:00"), properties=p) for i, p in enumerate(props)]
    engine = load(table(rows))

    def matches(flt: dict[str, Any]) -> int:
        f = frame(engine, DAY["start"], DAY["end"], filters=[flt])
        return f.count(f.events())

    assert matches({"field": "properties.n", "op": "gt", "value": 5}) == 1
    assert matches({"field": "page", "op": "gt", "value": 5}) == 0  # pages are no numbers: no match, no error
    assert matches({"field": "properties.n", "value": True}) == 1
    assert matches({"field": "properties.n", "op": "in", "value": [3, "abc", False]}) == 2
    assert matches({"field": "properties.n", "op": "not_in", "value": [3, "abc"]}) == 3

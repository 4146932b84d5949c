"""Promotion request shapes: amounts and counts fit the INTEGER columns they land in, days are real days
(SQLite, PostgreSQL). Before, 2**63 fen or 2026-02-30 got past validation and failed as a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from huoli.promotions.schemas import CheckoutIn

INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER, the type of promotions' amount columns


@pytest.fixture
def owner(make_app):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {make_app('shop').keys['owner']}"}


def _fields(r: Any) -> set[str]:
    return {d["field"] for d in r.json()["details"]}


@pytest.mark.parametrize(
    ("first_day", "reason"),
    [("2026-02-30", "a real day"), ("9999-12-31", "years 2000-2999"), ("0000-00-00", "a real day")],
)
def test_daily_flash_sessions_start_on_a_real_day(
    client: TestClient, owner: dict[str, str], first_day: str, reason: str
) -> None:
    body = {"prefix": "daily", "first_day": first_day, "days": 3}
    r = client.post("/admin/promotions/flash/sessions/daily", json=body, headers=owner)
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["details"]] == ["first_day"] and reason in r.text
    body["first_day"] = "2026-11-22"
    assert client.post("/admin/promotions/flash/sessions/daily", json=body, headers=owner).status_code == 201


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/admin/promotions/coupon-templates",
            {"id": "c1", "name": "C", "kind": "fixed", "amount_fen": 2**63, "valid_days": 7},
            "amount_fen",
        ),
        (
            "/admin/promotions/coupon-templates",
            {
                "id": "c2",
                "name": "C",
                "kind": "fixed",
                "amount_fen": 100,
                "valid_days": 7,
                "total_limit": 2**40,
            },
            "total_limit",
        ),
        (
            "/admin/promotions/group-campaigns",
            {
                "id": "g1",
                "name": "G",
                "item_id": "i",
                "original_price_fen": 2**64,
                "group_price_fen": 1,
                "size": 2,
            },
            "original_price_fen",
        ),
    ],
)
def test_amounts_and_counts_fit_integer_columns(
    client: TestClient, owner: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    r = client.post(path, json=body, headers=owner)
    assert r.status_code == 422 and field in _fields(r), r.text


def test_a_cart_totals_at_most_what_an_amount_column_holds() -> None:
    line = {"item_id": "i", "price_fen": INT32_MAX, "quantity": 2}
    with pytest.raises(ValidationError, match="largest order"):
        CheckoutIn.model_validate({"order_id": "o1", "coupon_ids": [], "cart": [line]})
    CheckoutIn.model_validate({"order_id": "o1", "coupon_ids": [], "cart": [line | {"quantity": 1}]})

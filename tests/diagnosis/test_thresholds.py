"""The doctor's thresholds document: every integer is bounded, so what was stored always reads back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient


def test_an_out_of_range_threshold_is_refused_and_the_settings_keep_reading_back(
    client: TestClient, make_app: Callable[..., Any]
) -> None:
    h = {"Authorization": f"Bearer {make_app().keys['operator']}"}
    th = client.get("/admin/diagnosis/settings", headers=h).json()
    # Stored unbounded, 2**64 was refused when read back: every later read and diagnosis answered 500.
    r = client.put("/admin/diagnosis/settings", json=th | {"min_sample": 2**64}, headers=h)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "min_sample", r.text
    assert client.get("/admin/diagnosis/settings", headers=h).json()["min_sample"] == th["min_sample"]

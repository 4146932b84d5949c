"""ValidatedBatch.rows() is what the outbox stores: it must equal the Arrow table's rows exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from huoli.events.ingest import Caller, validate_events

NOW = datetime(2026, 11, 20, 4, 5, 6, 789012, tzinfo=UTC)

_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x9FFF), min_size=1, max_size=20)
_event = st.fixed_dictionaries(
    {
        "event_id": st.uuids().map(str),
        "name": st.sampled_from(["page_view", "order_paid", "share", "checkin", "custom_thing"]),
        "ts": st.integers(min_value=-86_400_000, max_value=0).map(
            lambda ms: (NOW + timedelta(milliseconds=ms)).isoformat()
        ),
    },
    optional={
        "user_id": st.from_regex(r"^u_[a-z0-9]{1,10}$", fullmatch=True),
        "anonymous_id": st.from_regex(r"^a[0-9]{1,8}$", fullmatch=True),
        "page": st.sampled_from(["pages/index/index", "pages/item/detail"]),
        "scene": st.integers(min_value=1000, max_value=1300),
        "channel": st.sampled_from(["wechat", "ad"]),
        "properties": st.fixed_dictionaries(
            {},
            optional={
                "amount_fen": st.integers(min_value=0, max_value=10**9),
                "item_id": _text,
                "load_ms": st.integers(min_value=0, max_value=60_000),
                "color": _text,
                "n": st.integers(min_value=-5, max_value=5),
            },
        ),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_event, min_size=0, max_size=6))
def test_rows_equal_arrow_rows(raw: list[dict[str, object]]) -> None:
    batch = validate_events(
        raw,
        caller=Caller(app_id="shop", source="server"),
        now=NOW,
        max_age=timedelta(days=2),
        max_future=timedelta(minutes=5),
    )
    assert batch.rows() == batch.to_arrow().to_pylist()


def test_rows_keep_microseconds_and_utc() -> None:
    ts = "2026-11-20T12:05:06.123456+08:00"
    batch = validate_events(
        [{"event_id": str(uuid.uuid4()), "name": "favorite", "ts": ts, "anonymous_id": "a1"}],
        caller=Caller(app_id="shop", source="client"),
        now=NOW,
        max_age=timedelta(days=1),
        max_future=timedelta(0),
    )
    (row,) = batch.rows()
    assert row["ts"] == datetime.fromisoformat(ts) and row["ts"].tzinfo == UTC
    assert row["source"] == "client" and row["app_id"] == "shop"

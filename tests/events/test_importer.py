"""`huoli import` recipes on the shared real datasets, with the datasets' known facts asserted."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from huoli.errors import ValidationFailed
from huoli.events.importer import import_file, load_mapping
from huoli.events.stores import DuckDBEventStore

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[DuckDBEventStore]:
    s = DuckDBEventStore(":memory:")
    yield s
    s.close()


def counts(store: DuckDBEventStore, app: str) -> dict[str, int]:
    rows = store.query(
        "SELECT name, count(*) AS n FROM events WHERE app_id = ? GROUP BY name", [app]
    ).to_pylist()
    return {r["name"]: r["n"] for r in rows}


def test_taobao_user_sample(store: DuckDBEventStore, shared_data: Path) -> None:
    result = import_file(
        store=store,
        path=shared_data / "taobao_userbehavior_usersample.csv",
        mapping=load_mapping("taobao_userbehavior"),
        app_id="tb",
        now=NOW,
    )
    assert (result.rows, result.accepted, result.rejected) == (4321, 4321, 0)
    assert counts(store, "tb") == {"view_item": 3926, "add_to_cart": 190, "favorite": 128, "order_paid": 77}
    assert store.query("SELECT count(DISTINCT user_id) AS n FROM events").to_pylist() == [{"n": 43}]


def test_taobao_time_slice_and_reimport_is_idempotent(store: DuckDBEventStore, shared_data: Path) -> None:
    path = shared_data / "taobao_userbehavior_timeslice.csv"
    mapping = load_mapping("taobao_userbehavior")
    first = import_file(store=store, path=path, mapping=mapping, app_id="tb", now=NOW)
    assert first.accepted == 110_300
    assert counts(store, "tb") == {
        "view_item": 98_361,
        "add_to_cart": 6_063,
        "favorite": 3_383,
        "order_paid": 2_493,
    }
    facts = store.query(
        "SELECT count(DISTINCT item_id) AS items, count(DISTINCT properties->>'category_id') AS cats, "
        "min(ts) AS lo, max(ts) AS hi FROM events"
    ).to_pylist()[0]
    assert (facts["items"], facts["cats"]) == (84_793, 3_913)
    # The slice is 2017-11-26 09:00:00–11:10:11 in +08:00.
    assert facts["lo"] == datetime(2017, 11, 26, 1, 0, tzinfo=UTC)
    assert facts["hi"] == datetime(2017, 11, 26, 3, 10, 11, tzinfo=UTC)
    again = import_file(store=store, path=path, mapping=mapping, app_id="tb", now=NOW)
    assert (again.accepted, again.duplicates) == (0, 110_300)
    assert store.count(app_id="tb") == 110_300
    # Events of the same users that are also in the user sample are recognised as the same events.
    sample = import_file(
        store=store,
        path=shared_data / "taobao_userbehavior_usersample.csv",
        mapping=mapping,
        app_id="tb",
        now=NOW,
    )
    assert sample.accepted + sample.duplicates == 4321 and sample.duplicates > 0


def test_online_retail(store: DuckDBEventStore, shared_data: Path) -> None:
    path = shared_data / "online_retail.csv.gz"
    result = import_file(store=store, path=path, mapping=load_mapping("online_retail"), app_id="uk", now=NOW)
    c = counts(store, "uk")
    # Every line is kept (including the dataset's exact duplicate lines), one invoice event per invoice.
    assert c["purchase_item"] + c["refund_item"] + c["adjust_item"] == 541_909
    assert c["refund_item"] == 9_288
    assert c["order_paid"] + c["order_refunded"] + c["order_adjusted"] == 25_900
    assert result.accepted == 541_909 + 25_900 and result.rejected == 0
    facts = store.query(
        """SELECT count(DISTINCT user_id) AS customers, count(DISTINCT channel) AS countries,
                  count(*) FILTER (WHERE user_id IS NULL AND name LIKE '%_item') AS guest_lines,
                  sum(CASE WHEN name = 'purchase_item' THEN amount_fen ELSE -amount_fen END)
                      FILTER (WHERE name LIKE '%_item') AS net_fen,
                  sum(CASE WHEN name = 'order_paid' THEN amount_fen ELSE -amount_fen END)
                      FILTER (WHERE name LIKE 'order_%') AS net_orders_fen
           FROM events"""
    ).to_pylist()[0]
    assert facts["customers"] == 4_372 and facts["countries"] == 38 and facts["guest_lines"] == 135_080
    # Independent check of the money: per-line rounding to whole pence, computed here with Decimal.
    expected = Decimal(0)
    with gzip.open(path, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            expected += (Decimal(row["Quantity"]) * Decimal(row["UnitPrice"]) * 100).quantize(
                Decimal(1), ROUND_HALF_UP
            )
    assert facts["net_fen"] == int(expected) == facts["net_orders_fen"]
    # The known total (9,747,747.93) up to sub-penny unit prices rounded per line.
    assert abs(int(expected) - 974_774_793) <= 100
    first = store.query(
        "SELECT ts, order_id FROM events WHERE name = 'order_paid' ORDER BY ts LIMIT 1"
    ).to_pylist()[0]
    assert first == {
        "ts": datetime(2010, 12, 1, 8, 26, tzinfo=UTC),
        "order_id": "536365",
    }  # London = UTC in winter


def test_bad_mappings_are_clear(tmp_path: Path, store: DuckDBEventStore, shared_data: Path) -> None:
    with pytest.raises(ValidationFailed, match="neither a recipe"):
        load_mapping("no_such_recipe")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[events]]\n[events.columns]\nname = "x"\nbogus = "1"\n')
    with pytest.raises(ValidationFailed) as err:
        load_mapping(str(bad))
    fields = {d["field"] for d in err.value.details}
    assert {"events[0].columns.ts", "events[0].columns.key", "events[0].columns.bogus"} <= fields
    broken = tmp_path / "broken.toml"
    broken.write_text('[[events]]\n[events.columns]\nname = "no_such_column"\nts = "now()"\nkey = "1"\n')
    with pytest.raises(ValidationFailed, match="cannot read"):
        import_file(
            store=store,
            path=shared_data / "taobao_userbehavior_usersample.csv",
            mapping=load_mapping(str(broken)),
            app_id="x",
            now=NOW,
        )
    with pytest.raises(ValidationFailed, match="no such file"):
        import_file(
            store=store,
            path=tmp_path / "missing.csv",
            mapping=load_mapping("online_retail"),
            app_id="x",
            now=NOW,
        )
    assert store.count(app_id="x") == 0


def test_custom_jsonl_mapping_rejects_invalid_rows(tmp_path: Path, store: DuckDBEventStore) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text(
        '{"who": "a", "what": "signup", "when": "2026-01-01T10:00:00+08:00"}\n'
        '{"who": "b", "what": "Bad Name", "when": "2026-01-01T10:00:00+08:00"}\n'
        '{"who": null, "what": "signup", "when": "2026-01-01T10:00:00+08:00"}\n'
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'format = "jsonl"\n[[events]]\n[events.columns]\nkey = "who || what"\nname = "what"\n'
        'ts = "\\"when\\"::TIMESTAMPTZ"\nuser_id = "who"\n'
    )
    result = import_file(store=store, path=data, mapping=load_mapping(str(mapping)), app_id="j", now=NOW)
    assert (result.rows, result.accepted, result.rejected) == (3, 1, 2)
    assert store.query("SELECT user_id, ts FROM events").to_pylist() == [
        {"user_id": "a", "ts": datetime(2026, 1, 1, 2, 0, tzinfo=UTC)}
    ]

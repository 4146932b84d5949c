"""A mapping's `timezone` reads the source's naive timestamps; the app's timezone is only the fallback (and what
local days are made of). Checked on the real Online Retail file, whose InvoiceDate is London time, no offset."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from huoli.errors import ValidationFailed
from huoli.events.importer import import_file, load_mapping
from huoli.events.stores import DuckDBEventStore

NOW = datetime(2026, 11, 22, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def store() -> Iterator[DuckDBEventStore]:
    s = DuckDBEventStore(":memory:")
    yield s
    s.close()


@pytest.fixture(scope="module")
def invoice_times(shared_data: Path) -> dict[str, datetime]:
    """Each invoice's first line time as London wall-clock, read with the csv module (independent of DuckDB)."""
    first: dict[str, datetime] = {}
    with gzip.open(shared_data / "online_retail.csv.gz", "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            at = datetime.strptime(row["InvoiceDate"], "%Y-%m-%d %H:%M:%S")
            no = row["InvoiceNo"]
            first[no] = min(first.get(no, at), at)
    return first


def order_times(store: DuckDBEventStore, app: str) -> dict[str, datetime]:
    rows = store.query(
        "SELECT order_id, ts FROM events WHERE app_id = ? AND name LIKE 'order_%'", [app]
    ).to_pylist()
    return {r["order_id"]: r["ts"] for r in rows}


def test_the_recipe_reads_london_time_whatever_the_app_timezone(
    store: DuckDBEventStore, shared_data: Path, invoice_times: dict[str, datetime]
) -> None:
    result = import_file(
        store=store,
        path=shared_data / "online_retail.csv.gz",
        mapping=load_mapping("online_retail"),
        app_id="uk",
        now=NOW,
        default_timezone="Asia/Shanghai",  # the app's: it must not be used for the file's times
    )
    assert result.naive_timezone == "Europe/London" and result.rejected == 0
    got = order_times(store, "uk")
    assert len(got) == 25_900
    expected = {no: at.replace(tzinfo=LONDON).astimezone(UTC) for no, at in invoice_times.items()}
    assert got == expected
    # Both sides of the clock change are in the data: GMT in winter, BST (UTC+1) in summer.
    assert got["536365"] == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    summer = [no for no, at in invoice_times.items() if at.month == 7]
    assert summer and all(
        got[no] == invoice_times[no].replace(tzinfo=UTC) - timedelta(hours=1) for no in summer
    )


def _mapping(tmp_path: Path, timezone: str | None) -> Path:
    """The recipe's invoice events over the same file, with `ts` the naive column and the given timezone."""
    line = f'timezone = "{timezone}"\n' if timezone else ""
    path = tmp_path / "invoices.toml"
    path.write_text(
        f'format = "csv"\n{line}'
        '[read]\ntypes = { InvoiceNo = "VARCHAR", StockCode = "VARCHAR", CustomerID = "VARCHAR" }\n'
        '[[events]]\ngroup_by = "InvoiceNo"\n[events.columns]\n'
        'key = "InvoiceNo"\nname = "\'order_paid\'"\nts = "min(InvoiceDate)"\n'
        'anonymous_id = "\'c\' || coalesce(any_value(CustomerID), InvoiceNo)"\norder_id = "InvoiceNo"\n'
    )
    return path


@pytest.mark.parametrize(
    ("timezone", "read_in"),
    [("Europe/London", "Europe/London"), ("America/New_York", "America/New_York"), (None, "Asia/Shanghai")],
)
def test_a_custom_mapping_timezone_applies_else_the_app_timezone(
    store: DuckDBEventStore,
    shared_data: Path,
    tmp_path: Path,
    invoice_times: dict[str, datetime],
    timezone: str | None,
    read_in: str,
) -> None:
    result = import_file(
        store=store,
        path=shared_data / "online_retail.csv.gz",
        mapping=load_mapping(str(_mapping(tmp_path, timezone))),
        app_id="uk",
        now=NOW,
        default_timezone="Asia/Shanghai",
    )
    assert result.naive_timezone == read_in
    zone = ZoneInfo(read_in)
    got = order_times(store, "uk")
    assert got == {no: at.replace(tzinfo=zone).astimezone(UTC) for no, at in invoice_times.items()}


def test_text_timestamps_keep_their_offset_and_naive_text_reads_in_the_timezone(
    store: DuckDBEventStore, tmp_path: Path
) -> None:
    data = tmp_path / "events.csv"
    data.write_text(
        "who,when\n"
        "a,2026-07-01 10:00:00\n"  # no offset: the mapping's timezone
        "b,2026-07-01 10:00:00+02:00\n"
        "c,2026-07-01T10:00:00Z\n"
        "d,2026-07-01\n"  # a date is a wall-clock midnight, not an offset
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'timezone = "Asia/Tokyo"\n[read]\ntypes = { when = "VARCHAR" }\n[[events]]\n[events.columns]\n'
        'key = "who"\nname = "\'signup\'"\nts = \'"when"\'\nuser_id = "who"\n'
    )
    result = import_file(store=store, path=data, mapping=load_mapping(str(mapping)), app_id="t", now=NOW)
    assert result.naive_timezone == "Asia/Tokyo" and result.rejected == 0
    got = {r["user_id"]: r["ts"] for r in store.query("SELECT user_id, ts FROM events").to_pylist()}
    assert got == {
        "a": datetime(2026, 7, 1, 1, 0, tzinfo=UTC),
        "b": datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        "c": datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
        "d": datetime(2026, 6, 30, 15, 0, tzinfo=UTC),
    }


def test_zoned_timestamps_need_no_timezone_and_a_bad_one_is_refused(
    store: DuckDBEventStore, shared_data: Path, tmp_path: Path
) -> None:
    result = import_file(
        store=store,
        path=shared_data / "taobao_userbehavior_usersample.csv",
        mapping=load_mapping("taobao_userbehavior"),
        app_id="tb",
        now=NOW,
        default_timezone="Europe/London",
    )
    assert result.naive_timezone is None and result.accepted == 4_321  # to_timestamp(): already instants
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'timezone = "Mars/Olympus"\n[[events]]\n[events.columns]\nkey = "1"\nname = "x"\nts = "now()"\n'
    )
    with pytest.raises(ValidationFailed) as err:
        load_mapping(str(bad))
    assert {"field": "timezone", "message": "unknown IANA timezone 'Mars/Olympus'"} in err.value.details

"""`huoli catalog import`: a CSV or JSON file upserts items and categories in one transaction; the same file
again changes nothing; a bad row is named in one line (row, field), exits 1 and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from huoli.catalog.models import CatalogCategory, CatalogItem
from huoli.cli import app as huoli
from huoli.cli_support import database
from huoli.db import make_session_factory, unit_of_work

CSV = """id,title,category_id,category_name,price_fen,original_price_fen,stock,image_url,status
tea-1,明前龙井 250g,food,食品,12800,16800,30,https://img.example.com/tea-1.jpg,on_sale
cup-2,保温杯 500ml,home,家居,9900,,0,,
bag-3,帆布包,home,家居,5900,,,,off_shelf
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("HUOLI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "80")  # the one-line error must not wrap even on a narrow terminal
    runner = CliRunner()
    assert runner.invoke(huoli, ["apps", "create", "shop", "--name", "Shop"]).exit_code == 0
    return runner


def _items() -> list[tuple[object, ...]]:
    with database() as (_, engine, _keys), unit_of_work(make_session_factory(engine), app_id="shop") as db:
        items = [(i.id, i.title, i.category_id, i.price_fen, i.stock, i.status, i.available, i.updated_at)
                 for i in db.scalars(select(CatalogItem).order_by(CatalogItem.id))]  # fmt: skip
        cats = [(c.id, c.name) for c in db.scalars(select(CatalogCategory).order_by(CatalogCategory.id))]
    return [*items, *cats]


def test_import_csv_and_json_idempotently(shop: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text("\ufeff" + CSV, encoding="utf-8")  # as Excel saves it
    r = shop.invoke(huoli, ["catalog", "import", str(tmp_path / "items.csv"), "--app", "shop"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["items"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert json.loads(r.stdout)["became_unavailable"] == 2
    first = _items()
    assert [row[:7] for row in first[:3]] == [
        ("bag-3", "帆布包", "home", 5900, None, "off_shelf", False),
        ("cup-2", "保温杯 500ml", "home", 9900, 0, "on_sale", False),
        ("tea-1", "明前龙井 250g", "food", 12800, 30, "on_sale", True),
    ]
    assert first[3:] == [("food", "食品"), ("home", "家居")]
    r = shop.invoke(huoli, ["catalog", "import", str(tmp_path / "items.csv"), "--app", "shop"])
    assert json.loads(r.stdout)["items"] == {"created": 0, "updated": 0, "unchanged": 3}
    assert _items() == first

    doc = {"categories": [{"id": "food", "name": "食品饮料"}],
           "items": [{"id": "cup-2", "title": "保温杯 500ml", "category_id": "home", "price_fen": 9900,
                      "skus": [{"id": "cup-2-red", "title": "红色", "price_fen": 9900, "stock": 6}]}]}  # fmt: skip
    (tmp_path / "catalog.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = shop.invoke(huoli, ["catalog", "import", str(tmp_path / "catalog.json"), "--app", "shop"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["became_available"] == 1
    assert ("cup-2", "保温杯 500ml", "home", 9900, 6, "on_sale", True) in [row[:7] for row in _items()]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.csv", CSV.replace("9900,,0", "9900,,-3"),
         "error: row 2 (line 3, id cup-2), field stock: Input should be greater than or equal to 0"),
        ("dup.csv", CSV.replace("bag-3", "tea-1"), "error: row 3 (line 4, id tea-1), field id: tea-1 is also row 1"),
        ("cols.csv", "id,title,price\n", "error: line 1 (header): missing column price_fen"),
        ("bad.json", '{"items": [{"id": "a", "title": "x", "price_fen": 1, "status": "sold"}]}',
         "error: item 1 (id a), field status: Input should be 'on_sale' or 'off_shelf'"),
    ],
)  # fmt: skip
def test_a_bad_row_is_named_in_one_line_and_nothing_is_written(
    shop: CliRunner, tmp_path: Path, name: str, text: str, message: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    r = shop.invoke(huoli, ["catalog", "import", str(tmp_path / name), "--app", "shop"])
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), r.stderr
    assert _items() == []

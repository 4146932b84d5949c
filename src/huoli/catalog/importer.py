"""Reads a catalog file for `huoli catalog import`: CSV (one item a row) or JSON (the signed call's body).

Every row is checked before anything is written; the first bad one is named with its row, line and field
(`BadRow`), so a merchant fixes the file and runs the import again (it is idempotent, like the sync call).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from huoli.catalog.schemas import CategoryIn, ItemIn

# CSV columns (header row required; only id, title and price_fen must have a value). SKUs need JSON.
COLUMNS = (
    "id",
    "title",
    "category_id",
    "category_name",
    "price_fen",
    "original_price_fen",
    "stock",
    "image_url",
    "status",
)
REQUIRED = ("id", "title", "price_fen")


class BadRow(ValueError):
    """The first thing wrong in the file, as one line."""


@dataclass(frozen=True)
class Parsed:
    items: list[ItemIn]
    categories: list[CategoryIn]


def _first_error(exc: ValidationError, where: str) -> BadRow:
    e = exc.errors()[0]
    field = ".".join(str(p) for p in e["loc"]) or "(row)"
    return BadRow(f"{where}, field {field}: {e['msg']}")


def read(path: Path) -> Parsed:
    """The file's items and categories, checked; raises BadRow naming the first bad row and field."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel's CSV starts with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRow(f"cannot read {path}: {exc}") from None
    if path.suffix.lower() == ".json":
        return _json(text)
    if path.suffix.lower() == ".csv":
        return _csv(text)
    raise BadRow(f"{path.name}: give a .csv or .json file")


def _json(text: str) -> Parsed:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRow(f"not JSON: line {exc.lineno}: {exc.msg}") from None
    if isinstance(doc, list):
        doc = {"items": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("items", []), list):
        raise BadRow('JSON must be {"items": [...], "categories": [...]} or a list of items')
    unknown = sorted(set(doc) - {"items", "categories"})
    if unknown:
        raise BadRow(f"unknown key {unknown[0]!r}: the file holds items and categories")
    categories = []
    for n, raw in enumerate(doc.get("categories") or [], start=1):
        try:
            categories.append(CategoryIn.model_validate(raw))
        except ValidationError as exc:
            raise _first_error(exc, f"category {n}") from None
    items = []
    for n, raw in enumerate(doc.get("items") or [], start=1):
        try:
            items.append(ItemIn.model_validate(raw))
        except ValidationError as exc:
            named = _named(raw)
            raise _first_error(exc, f"item {n} ({named[2:]})" if named else f"item {n}") from None
    _once(items, [f"item {n + 1}" for n in range(len(items))])
    if not items and not categories:
        raise BadRow("the file has no items")
    return Parsed(items, categories)


def where(field: str) -> str:
    """A sync error's field (`items.3.id`) as the file's row: `row 4, field id`."""
    parts = field.split(".")
    if len(parts) >= 2 and parts[0] in ("items", "categories") and parts[1].isdigit():
        what = "row" if parts[0] == "items" else "category"
        rest = ".".join(parts[2:])
        return f"{what} {int(parts[1]) + 1}" + (f", field {rest}" if rest else "")
    return field or "(file)"


def _named(raw: Any) -> str:
    return (
        f", id {raw['id']}" if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"] else ""
    )


def _once(items: list[ItemIn], rows: list[str]) -> None:
    """An id twice in one file is a mistake to fix there, not a last-one-wins."""
    first: dict[str, int] = {}
    for n, item in enumerate(items):
        if item.id in first:
            earlier = rows[first[item.id]].split(" (")[0]
            raise BadRow(f"{rows[n]}, field id: {item.id} is also {earlier}")
        first[item.id] = n


def _csv(text: str) -> Parsed:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadRow(f"line 1 (header): missing column {missing[0]} (columns: {', '.join(COLUMNS)})")
    extra = [h for h in header if h not in COLUMNS]
    if extra:
        raise BadRow(f"line 1 (header): unknown column {extra[0]} (columns: {', '.join(COLUMNS)})")
    reader.fieldnames = header
    items: list[ItemIn] = []
    names: dict[str, str] = {}
    wheres: list[str] = []
    for n, row in enumerate(reader, start=1):
        where = f"row {n} (line {reader.line_num}{_named(row)})"
        wheres.append(where)
        if None in row:  # more cells than the header has
            raise BadRow(f"{where}: more cells than the header's {len(header)} columns")
        cells = {k: (v or "").strip() for k, v in row.items()}
        values: dict[str, Any] = {k: v for k, v in cells.items() if v != "" and k != "category_name"}
        try:
            items.append(ItemIn.model_validate(values))
        except ValidationError as exc:
            raise _first_error(exc, where) from None
        name = cells.get("category_name", "")
        if name:
            if not cells.get("category_id"):
                raise BadRow(f"{where}, field category_id: needed with category_name")
            names.setdefault(cells["category_id"], name)
    if not items:
        raise BadRow("the file has no items (a header row, then one item a row)")
    _once(items, wheres)
    categories = []
    for cid, name in names.items():
        try:
            categories.append(CategoryIn(id=cid, name=name))
        except ValidationError as exc:
            raise _first_error(exc, f"category {cid}") from None
    return Parsed(items, categories)

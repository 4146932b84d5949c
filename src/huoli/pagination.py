"""One cursor pagination for every admin list (Dispatch's search_filter_sort_paginate, Polar's ListResource).

A list answers `Page[T]`: `{"items": [...], "next_cursor": "…" | null}`. The client passes `limit` (1–200,
default 50) and the `cursor` of the previous page; `next_cursor` is null on the last page. The cursor is opaque
to clients: base64url of the last row's sort key, and the next page is the rows after that key (keyset
pagination), so a page costs an index range scan however deep it is, and rows inserted meanwhile neither
shift nor repeat the rows already seen. Offsets would do both. No `total`: a COUNT over a large table is not
cheap, and no console page needs it.

A list may let the client sort it: `sort=<name>` (ascending) or `sort=-<name>` over the columns it names in
`sortable`; the list's own order then breaks ties, so rows stay in one total order and keyset pages still hold
each row once. A cursor carries the sort it was made for: another sort's cursor is refused.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import Select, and_, false, literal, or_, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from huoli.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list, in the list's order; pass `next_cursor` as `cursor` for the next (null: the end)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    sort: str | None = None  # "<name>" or "-<name>", one of the list's sortable columns


@dataclass(frozen=True)
class _Key:
    column: ColumnElement[Any]
    descending: bool
    attribute: str  # the ORM attribute the row carries the value in


def _keys(order: Sequence[UnaryExpression[Any]]) -> list[_Key]:
    keys = []
    for o in order:
        if not isinstance(o, UnaryExpression) or o.modifier not in (operators.asc_op, operators.desc_op):
            raise TypeError("order keys must be column.asc() or column.desc()")
        column: ColumnElement[Any] = o.element
        if column.key is None:
            raise TypeError("order keys must be mapped columns")
        keys.append(_Key(column, o.modifier is operators.desc_op, column.key))
    return keys


def _bad_cursor(reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"invalid cursor: {reason}", details=[{"field": "cursor", "message": f"invalid cursor: {reason}"}]
    )


def _encode(values: Sequence[Any], sort: str | None) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    # a sorted list's cursor starts with its sort, so a cursor made for another order cannot be replayed
    payload = [sort, *plain] if sort else plain
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode(cursor: str, keys: list[_Key], sort: str | None) -> list[Any]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise _bad_cursor("not a cursor this list gave") from None
    if sort is not None:
        if not isinstance(raw, list) or not raw or raw[0] != sort:
            raise _bad_cursor("not a cursor for this sort")
        raw = raw[1:]
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise _bad_cursor("not a cursor this list gave")
    values: list[Any] = []
    for key, value in zip(keys, raw, strict=True):
        column_type = key.column.type
        # a TypeDecorator (UTCDateTime) answers object; its implementation type knows the Python type
        kind = getattr(column_type, "impl_instance", column_type).python_type
        if kind is datetime:
            try:
                parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                parsed = None
            if parsed is None or parsed.tzinfo is None:
                raise _bad_cursor("not a cursor this list gave")
            values.append(parsed)
        elif kind is int:
            # bool is an int in Python; a cursor value past 64 bits would fail in the database, not here
            if type(value) is not int or abs(value) >= 2**63:
                raise _bad_cursor("not a cursor this list gave")
            values.append(value)
        elif kind is str:
            if not isinstance(value, str):
                raise _bad_cursor("not a cursor this list gave")
            values.append(value)
        else:
            raise TypeError(f"no cursor encoding for {kind.__name__} keys")
    return values


def _after(keys: list[_Key], values: list[Any]) -> ColumnElement[bool]:
    """Rows after `values` in the order `keys`: a row-value comparison when every key runs one way (an index
    range), otherwise the expanded (k1 beyond v1) OR (k1 = v1 AND k2 beyond v2) … form."""
    if all(k.descending == keys[0].descending for k in keys):
        # typed binds: a value goes through its column's type (UTCDateTime's UTC rule) like in the column's own compare
        left = tuple_(*(k.column for k in keys))
        right = tuple_(*(literal(v, k.column.type) for k, v in zip(keys, values, strict=True)))
        return left < right if keys[0].descending else left > right
    clauses: list[ColumnElement[bool]] = []
    for i, key in enumerate(keys):
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*(keys[j].column == values[j] for j in range(i)), beyond))
    return or_(false(), *clauses)


def _sorted(
    page: PageParams, order: Sequence[UnaryExpression[Any]], sortable: Mapping[str, Any] | None
) -> list[UnaryExpression[Any]]:
    if not page.sort:
        return list(order)
    name = page.sort.removeprefix("-")
    if not sortable or name not in sortable:
        allowed = ", ".join(sorted(sortable or {})) or "none"
        message = f"this list sorts by: {allowed}"
        raise ValidationFailed(message, details=[{"field": "sort", "message": message}])
    column = sortable[name]
    # keyset pages compare values: a NULL compares as unknown and would drop rows
    if getattr(getattr(column, "expression", column), "nullable", False):
        raise TypeError(f"sort column {name} must be NOT NULL")
    return [column.desc() if page.sort.startswith("-") else column.asc(), *order]


def paginate(
    db: Session,
    stmt: Select[Any],
    page: PageParams,
    *,
    order: Sequence[UnaryExpression[Any]],
    sortable: Mapping[str, Any] | None = None,
) -> tuple[list[Any], str | None]:
    """Run `stmt` (selecting one ORM entity) for one page ordered by `order`, which must be unique per row
    (end it with the primary key). `sortable` names the NOT NULL columns a client may sort by first
    (`page.sort`; unknown names answer 422 on `sort`). Returns the rows and the next page's cursor (None after
    the last row). A cursor that this order did not produce answers 422 on the field `cursor`."""
    order = _sorted(page, order, sortable)
    keys = _keys(order)
    if page.cursor is not None:
        stmt = stmt.where(_after(keys, _decode(page.cursor, keys, page.sort)))
    rows = list(db.scalars(stmt.order_by(*order).limit(page.limit + 1)))
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, _encode([getattr(last, k.attribute) for k in keys], page.sort)

"""Bounds for the integers requests carry, shared by every domain's schemas.

JSON and Python integers have no size limit; columns, floats and JavaScript numbers do. An integer field
without an upper bound lets 2**64 through validation, and it fails later — on insert, in arithmetic, or when
the stored document is read back — as a 500 instead of a 422 naming the field. Every integer field of a
request therefore has an upper bound from here, set on the field itself: `Field(0, ge=0, le=MAX_FEN)`.
(Not as `Annotated[int, Field(le=…)]`: pydantic lets such a type's bounds replace a field's own ge/le.)
"""

from __future__ import annotations

import math
from typing import TypeVar

T = TypeVar("T")

INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER: promotions' money and counts, loyalty counters
INT64_MAX = 2**63 - 1  # PostgreSQL BIGINT, SQLite INTEGER, DuckDB BIGINT
INT53_MAX = 2**53 - 1  # the largest integer a JavaScript client (SDK, console) reads exactly
MAX_FEN = 10**12  # ¥10 billion: above any order, refund or channel cost a mini-program records
MAX_POINTS = 10**12  # points or growth in one grant, price, cap or score
MAX_RATE = 10_000  # a per-yuan rate: MAX_FEN // 100 * MAX_RATE = 10**14, exact in JavaScript and in BIGINT


def check_json_numbers(value: T, limit: int = INT53_MAX) -> T:
    """Refuse an integer beyond ±limit, or NaN or ±Infinity (which Python's JSON parser lets through),
    anywhere in a free-form JSON value (filters, flag values): stored, it could not be read back, compared
    or sent to a JavaScript client intact."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -limit <= value <= limit:
            raise ValueError(f"integer {value} is out of range (±{limit})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a number JSON can carry")
    elif isinstance(value, dict):
        for item in value.values():
            check_json_numbers(item, limit)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json_numbers(item, limit)
    return value

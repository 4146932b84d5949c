"""Flattens a metric result into one table (columns, rows) for the CLI's table and CSV output: each metric
says how (`@metric(table=...)`, usually rows_table over the part of its result that is a list of rows)."""

from __future__ import annotations

from typing import Any

from huoli.analytics.registry import METRICS


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    return v


def rows_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Rows of dicts as (columns of the first row, values in that order; floats to 6 places)."""
    if not rows:
        return [], []
    cols = list(rows[0].keys())
    return cols, [[_fmt(r.get(c)) for c in cols] for r in rows]


def tabulate(metric: str, result: Any) -> tuple[list[str], list[list[Any]]]:
    m = METRICS.get(metric)
    if m is not None and m.table is not None:
        return m.table(result)
    return rows_table(result if isinstance(result, list) else [result])

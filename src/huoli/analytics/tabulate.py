"""Flattens a metric result into one table (columns, rows) for the CLI's table and CSV output."""

from __future__ import annotations

from typing import Any


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    return v


def tabulate(metric: str, result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    if metric == "activity":
        rows = result["series"]
    elif metric == "retention":
        cols = ["cohort", "breakdown", "size"] + [f"{result['period'][0]}{c}" for c in result["columns"]]
        out = [[r["cohort"], r["breakdown"], r["size"], *r["retained"]] for r in result["rows"]]
        for m in result["weighted_mean"]:
            out.append(["weighted mean %", m["breakdown"], None, *[None if x is None else round(100 * x, 2) for x in m["rate"]]])
        return cols, out
    elif metric == "funnel":
        rows = [{"breakdown": b["breakdown"], **s} for b in result["breakdown"] for s in b["steps"]]
    elif metric == "paths":
        rows = [{"level": lv["level"], **t} for lv in result["levels"] for t in lv["transitions"]]
    elif metric == "lifecycle":
        rows = result["rows"]
    elif metric == "acquisition":
        rows = [{"channel": r["value"], "new_users": r["users"]} for r in result["new_users"]["by_channel"]["totals"]]
    elif metric == "interaction":
        rows = [
            {"breakdown": r["breakdown"], "active_users": r["active_users"], **{f"{k}_rate": r[k]["rate"] for k in ("share", "favorite", "comment")}}
            for r in result
        ]
    elif metric == "experience":
        rows = result["pages"]
    else:
        rows = result if isinstance(result, list) else [result]
    if not rows:
        return [], []
    cols = list(rows[0].keys())
    return cols, [[_fmt(r.get(c)) for c in cols] for r in rows]

"""Paths (docs/metrics.md#paths): sessions split after 30 minutes without events; the most frequent
transitions after (or before) a page or event; entry and exit pages; per-page bounce and exit rates.
Every cut is reported: how many transitions and users fell outside the top-N or past the depth limit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import ibis
from pydantic import BaseModel, Field

from huoli.analytics.frame import Frame, MetricQuery
from huoli.analytics.registry import Strict, metric
from huoli.analytics.tabulate import rows_table
from huoli.analytics.timebase import epoch_s

if TYPE_CHECKING:
    from huoli.runtime import Runtime

SESSION_GAP_SECONDS = 30 * 60
# Bookkeeping events that are not steps of a path (they accompany every page or open).
AMBIENT = ["app_hide", "page_leave", "perf"]


class PathSpec(BaseModel):
    kind: Literal["pages", "events"] = "pages"  # steps are page views (labelled by page) or all events
    anchor: str | None = None  # a page (kind=pages) or event name; None: from each session's entry
    direction: Literal["after", "before"] = "after"
    depth: int = Field(default=5, ge=1, le=20)
    top: int = Field(default=10, ge=1, le=200)  # transitions kept per level; the rest is reported as cut
    session_gap_seconds: int = Field(default=SESSION_GAP_SECONDS, ge=60, le=86400)


class PathsRequest(MetricQuery, PathSpec, Strict):
    pass


def steps(frame: Frame, kind: str, gap: int) -> ibis.Table:
    """Path steps with session numbers: actor, sess, idx (1-based within the session), label, ts."""
    ev = frame.events()
    if kind == "pages":
        ev = ev.filter(ev.name == "page_view", ev.page.notnull()).mutate(label=ev.page)
    else:
        ev = ev.filter(~ev.name.isin(AMBIENT)).mutate(label=ev.name)
    w = ibis.window(group_by=ev.actor, order_by=[ev.ts, ev.event_id])
    ev = ev.mutate(prev_ts=ev.ts.lag().over(w))
    gap_s = epoch_s(ev.ts) - epoch_s(ev.prev_ts)
    ev = ev.mutate(brk=ibis.ifelse(ev.prev_ts.isnull() | (gap_s > gap), 1, 0))
    ev = ev.mutate(
        sess=ev.brk.sum().over(ibis.window(group_by=ev.actor, order_by=[ev.ts, ev.event_id], rows=(None, 0)))
    )
    ev = ev.mutate(
        idx=ibis.row_number().over(ibis.window(group_by=[ev.actor, ev.sess], order_by=[ev.ts, ev.event_id]))
        + 1
    )
    return ev.select("actor", "sess", "idx", "label", "ts")


def compute(frame: Frame, spec: PathSpec) -> dict[str, Any]:
    if spec.kind == "events" and spec.anchor:
        frame.check_event(spec.anchor, "anchor")
    st = steps(frame, spec.kind, spec.session_gap_seconds)
    if spec.anchor:
        a = st.filter(st.label == spec.anchor).group_by("actor", "sess").aggregate(aidx=lambda x: x.idx.min())
    else:
        a = st.group_by("actor", "sess").aggregate(aidx=lambda x: x.idx.min())
    j = st.join(a, ["actor", "sess"])
    sign = 1 if spec.direction == "after" else -1
    j = j.mutate(level=(j.idx - j.aidx) * sign)
    j = j.filter((j.level >= 0) & (j.level <= spec.depth))
    nxt = j.mutate(level=j.level - 1).select("actor", "sess", "level", to=j.label)
    t = j.join(nxt, ["actor", "sess", "level"]).select("level", src="label", dst="to")
    agg = t.group_by("level", "src", "dst").aggregate(n=lambda x: x.count())
    rows = frame.run(agg)
    sessions = frame.count(a)
    levels: dict[int, list[tuple[str, str, int]]] = {}
    for r in rows:
        levels.setdefault(int(r["level"]), []).append((r["src"], r["dst"], int(r["n"])))
    out_levels = []
    for lv in sorted(levels):
        items = sorted(levels[lv], key=lambda x: (-x[2], x[0], x[1]))
        kept, cut = items[: spec.top], items[spec.top :]
        out_levels.append(
            {
                "level": lv + 1,
                "transitions": [
                    {"from": s if sign > 0 else d, "to": d if sign > 0 else s, "sessions": n}
                    for s, d, n in kept
                ],
                "cut": {"transitions": len(cut), "sessions": sum(n for _, _, n in cut)},
            }
        )
    return {
        "anchor": spec.anchor,
        "direction": spec.direction,
        "sessions": sessions,
        "levels": out_levels,
        "depth_limit": spec.depth,
        "pages": pages(frame, st) if spec.kind == "pages" else None,
    }


def pages(frame: Frame, st: ibis.Table) -> list[dict[str, Any]]:
    """Per page: views, sessions entering and exiting on it, bounce rate (single-page sessions among those
    entering there) and exit rate (exits / views)."""
    per = st.group_by("actor", "sess").aggregate(n=st.count(), last=st.idx.max())
    s = st.join(per, ["actor", "sess"])
    agg = s.group_by(page=s.label).aggregate(
        views=s.count(),
        entries=(s.idx == 1).sum(),
        exits=(s.idx == s.last).sum(),
        bounces=((s.idx == 1) & (s.n == 1)).sum(),
    )
    out = []
    for r in sorted(frame.run(agg), key=lambda r: (-int(r["views"]), r["page"])):
        views, entries, exits, bounces = (int(r[k] or 0) for k in ("views", "entries", "exits", "bounces"))
        out.append(
            {
                "page": r["page"],
                "views": views,
                "entries": entries,
                "exits": exits,
                "bounce_rate": bounces / entries if entries else None,
                "exit_rate": exits / views if views else None,
            }
        )
    return out


def _table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    return rows_table([{"level": lv["level"], **t} for lv in result["levels"] for t in lv["transitions"]])


@metric("paths", request=PathsRequest, title="Paths, entry/exit pages", order=50, table=_table)
def run(frame: Frame, req: PathsRequest, runtime: Runtime | None) -> dict[str, Any]:
    return compute(frame, req)

"""Page experience (docs/metrics.md#experience): load-time percentiles per page and bounce rate by the
landing page's load time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis

from huoli.analytics.frame import Frame, first_order, ratio
from huoli.analytics.registry import SimpleRequest, metric
from huoli.analytics.tabulate import rows_table

if TYPE_CHECKING:
    from huoli.runtime import Runtime

LOAD_BUCKETS_MS = [1000, 2000, 3000, 5000]


def experience(frame: Frame, quantiles: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95, 0.99)) -> dict[str, Any]:
    """Page load time percentiles per page (nearest rank: the ⌈q·n⌉-th smallest, exact on every engine)
    and bounce rate by the load time of the session's landing page."""
    ev = frame.events()
    perf = ev.filter(ev.name == "perf", ev.load_ms.notnull(), ev.page.notnull())
    w = ibis.window(group_by=perf.page, order_by=[perf.load_ms, perf.event_id])
    ranked = perf.mutate(
        rn=ibis.row_number().over(w) + 1, n=perf.count().over(ibis.window(group_by=perf.page))
    )
    picks = []
    for q in quantiles:
        sel = ranked.filter(ranked.rn == (ranked.n * q).ceil().cast("int64"))
        picks.append(sel.select("page", "n", "load_ms", q=ibis.literal(q, "float64")))
    rows = frame.run(ibis.union(*picks))
    pages: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = pages.setdefault(r["page"], {"page": r["page"], "samples": int(r["n"])})
        p[f"p{round(r['q'] * 100)}_ms"] = int(r["load_ms"])
    # Landing load time per session (the session's first perf event) against single-page sessions.
    s = ev.filter(ev.session_id.notnull())
    land = (
        s.filter(s.name == "perf", s.load_ms.notnull())
        .group_by("session_id")
        .aggregate(load=lambda x: x.load_ms.argmin(first_order(x)))
    )
    views = s.filter(s.name == "page_view").group_by("session_id").aggregate(views=lambda x: x.count())
    j = land.join(views, "session_id")
    bucket = ibis.cases(*[(j.load < b, i) for i, b in enumerate(LOAD_BUCKETS_MS)], else_=len(LOAD_BUCKETS_MS))
    agg = (
        j.mutate(b=bucket)
        .group_by("b")
        .aggregate(sessions=lambda x: x.count(), bounced=lambda x: (x.views == 1).sum())
    )
    labels = ["<1s", "1–2s", "2–3s", "3–5s", "≥5s"]
    by = {int(r["b"]): r for r in frame.run(agg)}
    buckets = []
    for i, label in enumerate(labels):
        r = by.get(i, {})
        sessions, bounced = int(r.get("sessions") or 0), int(r.get("bounced") or 0)
        buckets.append(
            {
                "bucket": label,
                "sessions": sessions,
                "bounced": bounced,
                "bounce_rate": ratio(bounced, sessions),
            }
        )
    return {
        "pages": sorted(pages.values(), key=lambda p: (-p["samples"], p["page"])),
        "bounce_by_load": buckets,
    }


@metric(
    "experience",
    request=SimpleRequest,
    title="Page load times and bounce",
    order=90,
    table=lambda result: rows_table(result["pages"]),
)
def run(frame: Frame, req: SimpleRequest, runtime: Runtime | None) -> dict[str, Any]:
    return experience(frame)

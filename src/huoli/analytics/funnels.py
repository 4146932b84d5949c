"""The funnel metric lives in metrics/funnel.py (one module per metric, found by registry.py); this name stays
for the code that imports it from here (diagnosis, reports, benchmarks)."""

from huoli.analytics.metrics.funnel import *  # noqa: F403

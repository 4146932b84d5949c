"""The activity metric lives in metrics/activity.py (one module per metric, found by registry.py); this name stays
for the code that imports it from here (diagnosis, reports, benchmarks)."""

from huoli.analytics.metrics.activity import *  # noqa: F403

"""The retention metric lives in metrics/retention.py (one module per metric, found by registry.py); this name stays
for the code that imports it from here (diagnosis, reports, benchmarks)."""

from huoli.analytics.metrics.retention import *  # noqa: F403

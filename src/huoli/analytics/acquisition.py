"""The acquisition metric lives in metrics/acquisition.py (one module per metric, found by registry.py); this name stays
for the code that imports it from here (diagnosis, reports, benchmarks)."""

from huoli.analytics.metrics.acquisition import *  # noqa: F403

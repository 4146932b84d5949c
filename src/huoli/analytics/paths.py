"""The paths metric lives in metrics/paths.py (one module per metric, found by registry.py); this name stays
for the code that imports it from here (diagnosis, reports, benchmarks)."""

from huoli.analytics.metrics.paths import *  # noqa: F403

"""The lifecycle metric lives in metrics/lifecycle.py (one module per metric, found by registry.py); this name stays
for the code that imports it from here (diagnosis, reports, benchmarks)."""

from huoli.analytics.metrics.lifecycle import *  # noqa: F403

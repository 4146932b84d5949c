"""Conversion, interaction and experience are metrics of their own in metrics/ (one module per metric, found
by registry.py); this name stays for the code that imports them from here (diagnosis, reports)."""

from huoli.analytics.metrics.conversion import conversion
from huoli.analytics.metrics.experience import LOAD_BUCKETS_MS, experience
from huoli.analytics.metrics.interaction import interaction

__all__ = ["LOAD_BUCKETS_MS", "conversion", "experience", "interaction"]

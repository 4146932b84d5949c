"""Deterministic assignment, compatible with GrowthBook's SDK spec (hash v1/v2, bucket ranges, namespaces).

Pure functions: the server, the SDK and GrowthBook's own SDKs put the same user in the same bucket.
"""

from __future__ import annotations

from collections.abc import Sequence

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193

Range = tuple[float, float]


def fnv1a32(text: str) -> int:
    """FNV-1a 32-bit over UTF-16 code units, as JS's charCodeAt does (ids are ASCII in practice)."""
    h = _FNV_OFFSET
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _fnv1a32_ascii(text: str) -> int:
    h = _FNV_OFFSET
    for b in text.encode():
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _fnv(text: str) -> int:
    return _fnv1a32_ascii(text) if text.isascii() else fnv1a32(text)


def gb_hash(seed: str, value: str, version: int) -> float | None:
    """A number in [0, 1): v1 = fnv(value+seed) % 1000 / 1000, v2 = fnv(str(fnv(seed+value))) % 10000 / 10000."""
    if version == 2:
        return (_fnv(str(_fnv(seed + value))) % 10000) / 10000
    if version == 1:
        return (_fnv(value + seed) % 1000) / 1000
    return None


def equal_weights(n: int) -> list[float]:
    return [] if n < 1 else [1.0 / n] * n


def bucket_ranges(
    n: int, coverage: float | None = 1.0, weights: Sequence[float] | None = None
) -> list[Range]:
    """Each variation's [start, start + coverage·weight); bad weights fall back to equal (GrowthBook rule)."""
    cov = 1.0 if coverage is None else min(max(float(coverage), 0.0), 1.0)
    equal = equal_weights(n)
    w = list(weights) if weights else equal
    if len(w) != n or abs(sum(w) - 1) > 0.01:
        w = equal
    ranges: list[Range] = []
    cumulative = 0.0
    for weight in w:
        start = cumulative
        cumulative += weight
        ranges.append((start, start + cov * weight))
    return ranges


def in_range(n: float, r: Sequence[float]) -> bool:
    return r[0] <= n < r[1]


def choose_variation(n: float, ranges: Sequence[Sequence[float]]) -> int:
    for i, r in enumerate(ranges):
        if in_range(n, r):
            return i
    return -1


def in_namespace(user_id: str, namespace: Sequence[object]) -> bool:
    """Namespaces make experiments mutually exclusive: each owns a slice of one per-namespace hash."""
    n = gb_hash("__" + str(namespace[0]), user_id, 1)
    if n is None:
        return False
    return float(namespace[1]) <= n < float(namespace[2])  # type: ignore[arg-type]

"""Deterministic, vectorised demo event generator for a fictional WeChat shop mini-program.

The model is users → active days → sessions → page views → events.  Everything is drawn with numpy per
block of `DemoSpec.block_users` users (10,000, fewer for long windows; a function of the spec only) from
`np.random.default_rng([seed, block_index])`, so the event content is identical whatever `batch_users` or
worker count is used.  Share cards are only opened by users of the same block, which keeps blocks
independent (and therefore parallel) while still linking sharers to openers.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import multiprocessing as mp
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huoli.events.schema import EVENT_SCHEMA

__all__ = [
    "BLOCKS_PER_FILE",
    "BLOCK_USERS",
    "CHANNELS",
    "CHANNEL_FIRST_SCENES",
    "EVENT_NAMES",
    "EXPERIMENTS",
    "GENERATOR_VERSION",
    "PAGES",
    "SERVER_EVENTS",
    "DemoExperiment",
    "DemoSpec",
    "GenerationResult",
    "experiment_window",
    "generate",
    "user_hash_v2",
    "write_parquet",
    "write_parquet_parallel",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
U8Array = npt.NDArray[np.uint8]

# Bumped whenever the same spec generates other events (2: experiment exposures and their effect), so a
# cache of an earlier version's Parquet parts is never reused.
GENERATOR_VERSION = 2
# Fixed so that the random streams (and hence every event) never depend on how callers batch the work.
BLOCK_USERS = 10_000
# Long windows get smaller blocks so one block stays around a few million events (bounded memory).
_BLOCK_USER_DAYS = 600_000
_MIN_BLOCK_USERS = 500
# Parallel writer: one part file per this many blocks, so the file set is independent of the worker count.
BLOCKS_PER_FILE = 5

_US = 1_000_000
_MIN_GAP_S = 300  # minimum spacing between two session starts of one user-day
_MAX_SESSIONS = 4
_MAX_BROWSE_STEPS = 18
_SLOW_LOAD_MS = 3000
_ACTIVITY_CELLS = 2_000_000  # user × day cells evaluated at once

# ---------------------------------------------------------------------------------------------------------
# Event kinds; the layout code relies on these codes, the names are what lands in the `name` column.
K_LAUNCH, K_SHOW, K_HIDE, K_PAGE_VIEW, K_PAGE_LEAVE, K_PERF = 0, 1, 2, 3, 4, 5
K_VIEW_ITEM, K_FAVORITE, K_COMMENT, K_ADD_TO_CART, K_SHARE, K_SEARCH = 6, 7, 8, 9, 10, 11
K_COUPON_CLAIMED, K_CHECKIN, K_ORDER_PAID, K_COUPON_REDEEMED, K_SHARE_OPEN = 12, 13, 14, 15, 16
K_EXPOSURE = 17
EVENT_NAMES = [
    "app_launch",
    "app_show",
    "app_hide",
    "page_view",
    "page_leave",
    "perf",
    "view_item",
    "favorite",
    "comment",
    "add_to_cart",
    "share",
    "search",
    "coupon_claimed",
    "checkin",
    "order_paid",
    "coupon_redeemed",
    "share_open",
    "experiment_exposure",
]
# experiment_exposure: the server logs it when GET /v1/flags first puts a user in a running experiment.
SERVER_EVENTS = frozenset({"order_paid", "coupon_claimed", "coupon_redeemed", "experiment_exposure"})
_NAME_POOL = pa.array(EVENT_NAMES, pa.string())
_SOURCE_POOL = pa.array(["client", "server"], pa.string())
_SOURCE_OF_KIND = np.array([1 if n in SERVER_EVENTS else 0 for n in EVENT_NAMES], np.int8)

PAGES = [
    "pages/index/index",
    "pages/category/index",
    "pages/item/detail",
    "pages/cart/index",
    "pages/order/confirm",
    "pages/user/index",
    "pages/checkin/index",
    "pages/search/index",
]
P_INDEX, P_CATEGORY, P_ITEM, P_CART, P_CONFIRM, P_USER, P_CHECKIN, P_SEARCH = range(8)
_PAGE_POOL = pa.array(PAGES, pa.string())

# Next-page Markov chain (rows: from, columns: to).  order/confirm with payment is only reached via checkout.
_TRANSITIONS = np.array(
    [
        [0.04, 0.20, 0.40, 0.07, 0.00, 0.09, 0.05, 0.15],  # index
        [0.12, 0.10, 0.63, 0.05, 0.00, 0.02, 0.00, 0.08],  # category
        [0.18, 0.12, 0.42, 0.12, 0.00, 0.04, 0.00, 0.12],  # item
        [0.30, 0.05, 0.40, 0.00, 0.20, 0.05, 0.00, 0.00],  # cart
        [0.45, 0.00, 0.20, 0.25, 0.00, 0.10, 0.00, 0.00],  # confirm
        [0.40, 0.10, 0.20, 0.10, 0.00, 0.00, 0.15, 0.05],  # user
        [0.55, 0.05, 0.25, 0.00, 0.00, 0.15, 0.00, 0.00],  # checkin
        [0.08, 0.02, 0.75, 0.02, 0.00, 0.00, 0.00, 0.13],  # search
    ]
)
_CONTINUE_P = np.array([0.80, 0.82, 0.76, 0.72, 0.55, 0.62, 0.55, 0.85])
_SLOW_CONTINUE_FACTOR = 0.45  # a >3 s load makes users bounce far more often
_LOAD_MEDIAN_MS = np.array([650.0, 700.0, 950.0, 600.0, 750.0, 500.0, 550.0, 800.0])
_LOAD_SPIKE_P = np.array([0.015, 0.015, 0.05, 0.015, 0.02, 0.01, 0.01, 0.02])  # item detail is the slow one
_VIEW_MEDIAN_MS = np.array([12e3, 15e3, 28e3, 15e3, 20e3, 8e3, 6e3, 14e3])

CHANNELS = ["organic", "share", "ads_wechat", "qr_offline", "search", "kol"]
C_ORGANIC, C_SHARE, C_ADS, C_QR, C_SEARCH, C_KOL = range(6)
_CHANNEL_POOL = pa.array(CHANNELS, pa.string())
_CHANNEL_W = np.array([0.30, 0.18, 0.15, 0.10, 0.15, 0.12])
_P_ONE_TIME = np.array([0.33, 0.30, 0.55, 0.45, 0.38, 0.50])  # paid traffic bounces more
_P_LOYAL = np.array([0.30, 0.30, 0.12, 0.18, 0.25, 0.15])

SCENES = [1001, 1089, 1007, 1008, 1045, 1011, 1047, 1053, 1058, 1014]
S_RECENT, S_PULLDOWN, S_SHARE1, S_SHARE_GROUP, S_MOMENTS_AD = 0, 1, 2, 3, 4
S_QR, S_MPCODE, S_SEARCH, S_ARTICLE, S_SUBSCRIBE = 5, 6, 7, 8, 9
_SCENE_VALUES = np.array(SCENES, np.int32)
SHARE_SCENES = frozenset({1007, 1008})
# Scenes a user's first session can have, per acquisition channel (the contract the tests check).
CHANNEL_FIRST_SCENES: dict[str, frozenset[int]] = {
    "organic": frozenset({1001, 1089}),
    "share": frozenset({1007, 1008}),
    "ads_wechat": frozenset({1045}),
    "qr_offline": frozenset({1011, 1047}),
    "search": frozenset({1053}),
    "kol": frozenset({1058}),
}
# First-session scene per channel (rows follow CHANNELS): scene a with P(a), else scene b.
_ACQ_SCENE_A = np.array([S_RECENT, S_SHARE1, S_MOMENTS_AD, S_MPCODE, S_SEARCH, S_ARTICLE])
_ACQ_SCENE_B = np.array([S_PULLDOWN, S_SHARE_GROUP, S_MOMENTS_AD, S_QR, S_SEARCH, S_ARTICLE])
_ACQ_SCENE_P = np.array([0.6, 0.6, 1.0, 0.6, 1.0, 1.0])
# Returning sessions: mostly recents / pull-down, some subscribe messages and friends' share cards.
_RETURN_SCENE_W = np.array([0.49, 0.37, 0.012, 0.008, 0.0, 0.0, 0.03, 0.04, 0.0, 0.05])
# Landing page per scene (rows follow SCENES).
_FIRST_PAGE = np.array(
    [
        [0.80, 0.08, 0.04, 0.02, 0.0, 0.03, 0.0, 0.03],  # 1001 recent
        [0.80, 0.08, 0.04, 0.02, 0.0, 0.03, 0.0, 0.03],  # 1089 pull-down
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 1007 share card lands on the shared item
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 1008 group share card
        [0.40, 0.0, 0.60, 0.0, 0.0, 0.0, 0.0, 0.0],  # 1045 moments ad
        [0.70, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0, 0.0],  # 1011 QR
        [0.70, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0, 0.0],  # 1047 mini-program code
        [0.0, 0.0, 0.50, 0.0, 0.0, 0.0, 0.0, 0.50],  # 1053 search
        [0.30, 0.0, 0.70, 0.0, 0.0, 0.0, 0.0, 0.0],  # 1058 article (KOL)
        [0.50, 0.0, 0.30, 0.0, 0.0, 0.20, 0.0, 0.0],  # 1014 subscribe message
    ]
)
_CAMPAIGNS = ["moments_launch", "moments_retarget", "store_poster", "package_code", "kol_food", "kol_moms"]
_CAMPAIGN_POOL = pa.array(_CAMPAIGNS, pa.string())
_CAMPAIGN_BASE = np.array([-1, -1, 0, 2, -1, 4])  # per channel: first of two campaigns, -1 for none

# Lifetime segments: 0 one-time, 1 casual, 2 loyal.
_BASE_ACTIVE_P = np.array([0.0, 0.34, 0.62])
_ACTIVE_FLOOR = np.array([0.0, 0.35, 0.60])  # long-run fraction of the initial activity left after decay
_ACTIVE_TAU_DAYS = 6.0
_LAMBDA_SESSIONS = np.array([0.0, 0.45, 1.05])  # extra sessions (Poisson) per active day
_LAMBDA_FIRST_DAY = 0.7
_WEEKEND_ACTIVE = 1.25
_WEEKEND_SESSIONS = 1.2
_STAGNATION_ACTIVE = 0.25  # activity lost by the end of the last third
_STAGNATION_SESSIONS = 0.6  # sessions per active day lost by the end of the last third
_STAGNATION_SHARES = (
    0.95  # sharing all but stops by the end of the last third (the doctor's interaction check)
)

_P_ADD_TO_CART = 0.035
_P_CHECKOUT = 0.3
_P_FAVORITE = 0.012
_P_COMMENT = 0.003
_P_SHARE_SESSION = 0.03
_P_CLAIM = np.array([0.006, 0.0, 0.0, 0.02, 0.0, 0.0, 0.0, 0.0])  # per page: home banner, cart nudge
_P_CLAIM_AT_CHECKOUT = 0.3  # "claim a coupon for this order" on the checkout cart page
_P_REDEEM = 0.8
_P_CHECKIN_USER = 0.45

_N_ITEMS = 2000
_ITEM_POOL = pa.array([f"sku_{i:05d}" for i in range(_N_ITEMS)], pa.string())
_COUPONS = ["cpn_new_user_500", "cpn_full_99_10", "cpn_full_199_30", "cpn_double11_50", "cpn_free_ship"]
_KEYWORDS = [
    "连衣裙", "手机壳", "零食", "咖啡", "口红", "面膜", "运动鞋", "T恤", "耳机", "保温杯",
    "洗发水", "坚果", "牛奶", "猫粮", "纸巾", "充电宝", "防晒霜", "卫衣", "茶叶", "月饼",
    "双十一", "羽绒服", "围巾", "奶粉", "玩具", "书包", "水果", "大米", "香水", "数据线",
]  # fmt: skip
_MAX_COMMENT_LEN = 200


@dataclass(frozen=True)
class DemoExperiment:
    """An A/B test the history contains: who the flag put in which variant (GrowthBook hash v2, seed = key,
    as experiments.service's rule does) and how each variant changed the chance that a cart is checked out.

    It runs from `starts_back` to `stops_back` days before the local midnight that ends the history (None:
    still running), clipped to the history; each user in it is exposed at their first session in that window.
    """

    key: str
    name: str
    hypothesis: str
    flag: str
    variants: tuple[tuple[str, str], ...]  # (variant key, flag value); the first is the control
    weights: tuple[float, ...]
    checkout_lift: tuple[float, ...]  # per variant: factor on the checkout probability while in the test
    starts_back: int
    stops_back: int | None
    primary: str = "paid"  # key of the metric the verdict reads (state.METRICS)
    method: str = "sequential"
    coverage: float = 1.0


EXPERIMENTS = (
    DemoExperiment(
        key="checkout-copy",
        name="结算按钮文案：立即支付 vs 限时抢购",
        hypothesis="An urgent checkout button turns more carts into paid orders.",
        flag="checkout_copy",
        variants=(("control", "立即支付"), ("urgent", "限时优惠，马上抢")),
        weights=(0.5, 0.5),
        checkout_lift=(1.0, 1.5),
        starts_back=23,
        stops_back=9,
        primary="checkout",  # the button is on the cart page: orders per cart is what it can move
        # Read once at its planned end, so the fixed-horizon test is the right one.
        method="frequentist",
    ),
    DemoExperiment(
        key="home-feed",
        name="首页信息流 vs 宫格",
        hypothesis="A feed home page leads more visitors to a paid order than the category grid.",
        flag="home_layout",
        variants=(("grid", "grid"), ("feed", "feed")),
        weights=(0.5, 0.5),
        checkout_lift=(1.0, 1.15),
        starts_back=5,
        stops_back=None,
    ),
)


def experiment_window(days: int, exp: DemoExperiment) -> tuple[int, int] | None:
    """The experiment's [first day, end day) as day indices of a `days`-day history, or None outside it."""
    first = max(0, days - exp.starts_back)
    end = days - (exp.stops_back or 0)
    return (first, end) if end > first else None


_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_U32 = 0xFFFFFFFF
_PRIME64, _MASK64 = np.uint64(_FNV_PRIME), np.uint64(_U32)
U64Array = npt.NDArray[np.uint64]


def _fnv_step(h: U64Array, byte: npt.NDArray[Any]) -> U64Array:
    return ((h ^ byte.astype(np.uint64)) * _PRIME64) & _MASK64


def _fnv_columns(h: U64Array, rows: U8Array) -> U64Array:
    for col in range(rows.shape[1]):
        h = _fnv_step(h, rows[:, col])
    return h


def user_hash_v2(seed: str, user_rows: U8Array) -> FloatArray:
    """GrowthBook's hash v2 of ASCII ids (fixed-width byte rows), vectorised: fnv(str(fnv(seed + id))) % 10⁴
    / 10⁴ with FNV-1a 32 — where flags put each user (flags.service.unit_hash, one id at a time)."""
    h0 = _FNV_OFFSET
    for b in seed.encode():
        h0 = ((h0 ^ b) * _FNV_PRIME) & _U32
    inner = _fnv_columns(np.full(user_rows.shape[0], h0, np.uint64), user_rows)
    digits = _digits(inner.astype(np.int64), 10)  # str(inner) is these digits without the leading zeros
    n_digits = 1 + sum((inner >= 10**k).astype(np.int64) for k in range(1, 10))
    outer = np.full(inner.size, _FNV_OFFSET, np.uint64)
    for col in range(10):
        step = _fnv_step(outer, digits[:, col])
        outer = np.where(col >= 10 - n_digits, step, outer)
    return (outer % 10_000).astype(np.float64) / 10_000


def _variant_of(exp: DemoExperiment, n: FloatArray) -> IntArray:
    """GrowthBook's bucket ranges: variant i owns [Σw<i, Σw<i + coverage·w_i); -1 outside every range."""
    out = np.full(n.size, -1, dtype=np.int64)
    start = 0.0
    for i, w in enumerate(exp.weights):
        out[(n >= start) & (n < start + exp.coverage * w)] = i
        start += w
    return out


# Properties JSON is precomputed once and picked by index, so no per-row JSON encoding happens.
_PROPERTIES_POOL = pa.array(
    [json.dumps({"keyword": k}, ensure_ascii=False) for k in _KEYWORDS]
    + [json.dumps({"length": n}) for n in range(1, _MAX_COMMENT_LEN + 1)]
    + [json.dumps({"template_id": c}) for c in _COUPONS]
    + [
        json.dumps({"experiment": e.key, "variant": v, "flag": e.flag})
        for e in EXPERIMENTS
        for v, _ in e.variants
    ],
    pa.string(),
)
_TEMPLATE_PROPS = len(_KEYWORDS) + _MAX_COMMENT_LEN  # first template entry in the properties pool
_EXPOSURE_PROPS = _TEMPLATE_PROPS + len(_COUPONS)  # first exposure entry: experiment e, variant v
_EXPOSURE_OFFSET = np.cumsum([0] + [len(e.variants) for e in EXPERIMENTS])
_KEYWORD_W = 1.0 / np.arange(1, len(_KEYWORDS) + 1) ** 0.8
# Local-time diurnal curve per hour 0..23: morning, lunch and a ~21:00 evening peak, quiet nights.
_HOURLY_W = np.array([
    0.6, 0.3, 0.15, 0.1, 0.1, 0.2, 0.6, 1.6, 2.4, 2.0, 1.6, 1.9,  # 00-11
    3.0, 2.6, 1.6, 1.4, 1.5, 1.8, 2.4, 2.8, 3.4, 4.0, 3.6, 1.8,  # 12-23
])  # fmt: skip

_PARQUET_DICT_COLUMNS = [
    "app_id",
    "name",
    "user_id",
    "anonymous_id",
    "page",
    "channel",
    "item_id",
    "coupon_id",
    "campaign",
    "properties",
    "source",
    "scene",
]
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": _PARQUET_DICT_COLUMNS,
    # Min/max of random ids never prunes anything and costs ~10% of the write time.
    "write_statistics": [n for n in EVENT_SCHEMA.names if n not in ("event_id", "share_id")],
}


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: `users` acquired over the `days` local days ending on `end_date` (inclusive)."""

    users: int
    days: int
    seed: int = 42
    end_date: dt.date = dt.date(2026, 11, 15)
    app_id: str = "demo"
    tz: str = "Asia/Shanghai"
    # Scales the chance that an acquired user comes back on a later day (1.0: the default mix, ~150 events
    # per user over 60 days; lower gives the many-light-users shape of a large app's audience).
    activity: float = 1.0

    def __post_init__(self) -> None:
        if self.users < 1 or self.days < 1:
            raise ValueError("users and days must be positive")
        if not 0.0 < self.activity <= 1.0:
            raise ValueError("activity must be in (0, 1]")
        if self.seed < 0:
            raise ValueError("seed must be non-negative (numpy SeedSequence entropy)")
        if not self.app_id:
            raise ValueError("app_id must not be empty")
        try:
            ZoneInfo(self.tz)
        except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {self.tz!r}") from exc

    @property
    def start_date(self) -> dt.date:
        return self.end_date - dt.timedelta(days=self.days - 1)

    @property
    def block_users(self) -> int:
        if self.days * BLOCK_USERS <= _BLOCK_USER_DAYS:
            return BLOCK_USERS
        return max(_MIN_BLOCK_USERS, _BLOCK_USER_DAYS // self.days // 100 * 100)

    @property
    def blocks(self) -> int:
        return -(-self.users // self.block_users)


@dataclass(frozen=True)
class GenerationResult:
    events: int
    files: tuple[Path, ...]
    seconds: float


@dataclass(frozen=True)
class _World:
    """Per-spec tables shared by every block (derived from the spec only, never from a block's stream)."""

    day_start_us: IntArray  # UTC epoch µs of each local midnight, days + 1 entries
    day_len_s: IntArray
    active_factor: FloatArray
    session_factor: FloatArray
    share_factor: FloatArray
    acq_cdf: FloatArray
    minute_cdf: FloatArray
    item_cdf: FloatArray
    item_price: IntArray
    id_width: int


# ---------------------------------------------------------------------------------------------------------
# Small vectorised helpers


def _cdf(weights: npt.ArrayLike) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w / w.sum(axis=-1, keepdims=True), axis=-1)
    c[..., -1] = 1.0  # guard against rounding so searchsorted never runs past the end
    return c


def _sample(cdf: FloatArray, u: FloatArray) -> IntArray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1).astype(np.int64)


def _sample_rows(cdf_rows: FloatArray, u: FloatArray) -> IntArray:
    # Row-wise inverse CDF: each row is that sample's own distribution (cdf_rows[i, -1] == 1).
    return np.minimum((u[:, None] >= cdf_rows).sum(axis=1), cdf_rows.shape[1] - 1).astype(np.int64)


def _excl_cumsum(x: IntArray) -> IntArray:
    out = np.zeros_like(x)
    np.cumsum(x[:-1], out=out[1:])
    return out


def _digits(values: IntArray, width: int) -> U8Array:
    out = np.empty((values.size, width), dtype=np.uint8)
    v = values.astype(np.int64, copy=True)
    for col in range(width - 1, -1, -1):
        out[:, col] = 48 + v % 10
        v //= 10
    return out


def _prefixed(prefix: bytes, digits: U8Array) -> U8Array:
    head = np.broadcast_to(np.frombuffer(prefix, np.uint8), (digits.shape[0], len(prefix)))
    return np.concatenate([head, digits], axis=1)


# Two hex characters per byte value, so hex encoding is a single gather of uint16 pairs.
_HEX_PAIRS = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)


def _hex(raw: U8Array) -> U8Array:
    return _HEX_PAIRS[raw].view(np.uint8).reshape(raw.shape[0], raw.shape[1] * 2)


def _uuid4_rows(rng: np.random.Generator, n: int) -> U8Array:
    raw = np.frombuffer(rng.bytes(16 * n), np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = _hex(raw)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, [8, 13, 18, 23]] = ord("-")
    for src, dst in ((0, 0), (8, 9), (12, 14), (16, 19), (20, 24)):  # 8-4-4-4-12 groups
        width = 12 if src == 20 else (8 if src == 0 else 4)
        out[:, dst : dst + width] = hexed[:, src : src + width]
    return out


def _fixed_strings(rows: U8Array, valid: BoolArray | None = None) -> pa.Array:
    """String array from fixed-width byte rows; with `valid`, rows hold only the non-null entries in order."""
    width = rows.shape[1]
    data = pa.py_buffer(np.ascontiguousarray(rows))
    if valid is None:
        n = rows.shape[0]
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
        return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), data], null_count=0)
    n = valid.size
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(valid, dtype=np.int32, out=offsets[1:])
    offsets *= width
    nulls = n - rows.shape[0]
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(pa.string(), n, [bitmap, pa.py_buffer(offsets), data], null_count=nulls)


def _ints(values: npt.NDArray[Any], typ: pa.DataType, valid: BoolArray | None = None) -> pa.Array:
    n = values.size
    nulls = 0 if valid is None else n - int(np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls and valid is not None else None
    buf = pa.py_buffer(np.ascontiguousarray(values, dtype=typ.to_pandas_dtype()))
    return pa.Array.from_buffers(typ, n, [bitmap, buf], null_count=nulls)


def _pick(pool: pa.Array, idx: npt.NDArray[Any], valid: BoolArray | None = None) -> pa.Array:
    return pc.take(pool, _ints(idx, pa.int32(), valid))


def _timestamps(ts_us: IntArray) -> pa.Array:
    return pa.Array.from_buffers(EVENT_SCHEMA.field("ts").type, ts_us.size, [None, pa.py_buffer(ts_us)])


# ---------------------------------------------------------------------------------------------------------
# Per-spec world


@functools.lru_cache(maxsize=8)
def _world(spec: DemoSpec) -> _World:
    tz = ZoneInfo(spec.tz)
    dates = [spec.start_date + dt.timedelta(days=d) for d in range(spec.days + 1)]
    starts = np.array(
        [int(dt.datetime.combine(d, dt.time(), tzinfo=tz).timestamp()) for d in dates], dtype=np.int64
    )
    day_len = np.diff(starts)  # 86400 except on DST switch days of zones that have them
    days = np.arange(spec.days)
    weekend = np.array([d.weekday() >= 5 for d in dates[:-1]])
    # Stagnation ramps from 0 at the start of the last third to 1 on the last day.
    third = spec.days / 3.0
    ramp = np.clip((days - 2 * third + 1) / max(third, 1.0), 0.0, 1.0)
    active_factor = np.where(weekend, _WEEKEND_ACTIVE, 1.0) * (1.0 - _STAGNATION_ACTIVE * ramp)
    session_factor = np.where(weekend, _WEEKEND_SESSIONS, 1.0) * (1.0 - _STAGNATION_SESSIONS * ramp)
    share_factor = 1.0 - _STAGNATION_SHARES * ramp
    # Acquisition: steady inflow, a launch spike on the first days, slowing down in the last third.
    acq_w = (1.0 + np.select([days == 0, days == 1, days == 2], [5.0, 3.0, 1.5], 0.0)) * np.where(
        weekend, 1.1, 1.0
    )
    acq_w *= 1.0 - 0.4 * ramp
    # Minutes of the day, truncated at 23:35 so that up to four spaced sessions still end before midnight.
    last_minute = (86_400 - _MIN_GAP_S * (_MAX_SESSIONS + 1)) // 60
    minute_w = np.repeat(_HOURLY_W, 60)[:last_minute]
    cat_rng = np.random.default_rng([spec.seed, 0x7FFF_FFFF])  # catalog stream, disjoint from block indices
    price_yuan = np.clip(np.round(cat_rng.lognormal(np.log(69.0), 0.8, _N_ITEMS)), 9, 599)
    item_price = (price_yuan * 100 - 10).astype(np.int64)  # x9.90 style prices, 990..59,890 fen
    item_w = 1.0 / np.arange(1, _N_ITEMS + 1) ** 1.05
    item_w = item_w[cat_rng.permutation(_N_ITEMS)]  # popular items are not simply the lowest sku numbers
    return _World(
        day_start_us=starts * _US,
        day_len_s=day_len,
        active_factor=active_factor,
        session_factor=session_factor,
        share_factor=share_factor,
        acq_cdf=_cdf(acq_w),
        minute_cdf=_cdf(minute_w),
        item_cdf=_cdf(item_w),
        item_price=item_price,
        id_width=max(8, len(str(spec.users - 1))),
    )


_TRANSITION_CDF = _cdf(_TRANSITIONS)
_FIRST_PAGE_CDF = _cdf(_FIRST_PAGE)
_CHANNEL_CDF = _cdf(_CHANNEL_W)
_RETURN_SCENE_CDF = _cdf(_RETURN_SCENE_W)
_KEYWORD_CDF = _cdf(_KEYWORD_W)


# ---------------------------------------------------------------------------------------------------------
# One block


@dataclass
class _Block:
    batch: pa.RecordBatch
    user_offsets: IntArray  # event offset of each user in the batch, plus the total at the end


def _generate_block(spec: DemoSpec, block: int) -> _Block:
    world = _world(spec)
    rng = np.random.default_rng([spec.seed, block])
    first_user = block * spec.block_users
    n_users = min(spec.block_users, spec.users - first_user)
    n_days = spec.days

    # --- users: acquisition day (sorted so ids follow signup order), channel, lifetime segment -------------
    acq_day = np.sort(_sample(world.acq_cdf, rng.random(n_users)))
    channel = _sample(_CHANNEL_CDF, rng.random(n_users))
    u = rng.random(n_users)
    seg = np.where(u < _P_ONE_TIME[channel], 0, np.where(u < _P_ONE_TIME[channel] + _P_LOYAL[channel], 2, 1))
    life = np.select(
        [seg == 0, seg == 1],
        [np.ones(n_users), 2.0 + rng.geometric(1 / 8, n_users)],
        20.0 + rng.exponential(150.0, n_users),
    )
    checkin_user = (seg == 2) & (rng.random(n_users) < _P_CHECKIN_USER)
    campaign_base = _CAMPAIGN_BASE[channel]
    campaign = np.where(campaign_base >= 0, campaign_base + rng.integers(0, 2, n_users), -1)

    # --- active days: decaying, weekly-seasonal, stagnating daily activity inside each user's lifetime -----
    # Chunked over users to bound memory on long windows; chunking does not change the random stream.
    rows = max(1, _ACTIVITY_CELLS // n_days)
    ud_parts: list[tuple[IntArray, IntArray]] = []
    for lo in range(0, n_users, rows):
        hi = min(n_users, lo + rows)
        age = np.arange(n_days)[None, :] - acq_day[lo:hi, None]
        floor = _ACTIVE_FLOOR[seg[lo:hi]][:, None]
        decay = floor + (1 - floor) * np.exp(-np.maximum(age, 0) / _ACTIVE_TAU_DAYS)
        p_active = _BASE_ACTIVE_P[seg[lo:hi]][:, None] * decay * world.active_factor[None, :]
        if spec.activity != 1.0:  # the default keeps its exact floats (same data as before the knob)
            p_active = p_active * spec.activity
        draws = rng.random((hi - lo, n_days))
        active = (age == 0) | ((age > 0) & (age < life[lo:hi, None]) & (draws < p_active))
        chunk_user, chunk_day = np.nonzero(active)  # row-major, so sorted by (user, day)
        ud_parts.append((chunk_user + lo, chunk_day))
    ud_user = np.concatenate([u for u, _ in ud_parts])
    ud_day = np.concatenate([d for _, d in ud_parts])

    # --- sessions: 1..4 per active day at diurnal local times, spaced so they never overlap ---------------
    first_day = ud_day == acq_day[ud_user]
    lam = np.where(first_day, _LAMBDA_FIRST_DAY, _LAMBDA_SESSIONS[seg[ud_user]])
    lam *= world.session_factor[ud_day]
    n_s = np.minimum(1 + rng.poisson(lam), _MAX_SESSIONS)
    sess_ud = np.repeat(np.arange(n_s.size), n_s)
    n_sess = sess_ud.size
    rank = np.arange(n_sess) - _excl_cumsum(n_s)[sess_ud]
    sess_day = ud_day[sess_ud]
    sess_user = ud_user[sess_ud]
    day_len = world.day_len_s[sess_day]
    minute = _sample(world.minute_cdf, rng.random(n_sess))
    sec = (minute * 60 + rng.integers(0, 60, n_sess)) * day_len // 86_400
    key = np.sort((sess_ud.astype(np.int64) << 17) | sec)  # sorts times within each user-day
    sec = key & ((1 << 17) - 1)
    for r in range(1, _MAX_SESSIONS):  # push colliding sessions apart, in rank order so pushes chain
        idx = np.flatnonzero(rank == r)
        sec[idx] = np.maximum(sec[idx], sec[idx - 1] + _MIN_GAP_S)
    last_in_day = rank == n_s[sess_ud] - 1
    next_sec = np.append(sec[1:], 0)
    cap_ms = np.where(last_in_day, day_len - 1 - sec, next_sec - sec - 30) * 1000 - 1000
    start_us = world.day_start_us[sess_day] + sec * _US + rng.integers(0, _US, n_sess)
    is_acq = np.ones(n_sess, dtype=bool)
    is_acq[1:] = sess_user[1:] != sess_user[:-1]

    ch_s = channel[sess_user]
    acq_scene = np.where(rng.random(n_sess) < _ACQ_SCENE_P[ch_s], _ACQ_SCENE_A[ch_s], _ACQ_SCENE_B[ch_s])
    ret_scene = _sample(_RETURN_SCENE_CDF, rng.random(n_sess))
    scene = np.where(is_acq, acq_scene, ret_scene)
    cold = is_acq | (rng.random(n_sess) < np.where(rank == 0, 0.9, 0.35))

    # --- experiments: each user's variant by the flag's hash; exposed at their first session in the test ----
    user_digits = _digits(np.arange(first_user, first_user + n_users), world.id_width)
    user_rows = _prefixed(b"u", user_digits)
    checkout_p = np.full(n_sess, _P_CHECKOUT)
    expo_sess: list[IntArray] = []
    expo_prop: list[IntArray] = []
    for e, exp in enumerate(EXPERIMENTS):
        window = experiment_window(spec.days, exp)
        if window is None:
            continue
        variant = _variant_of(exp, user_hash_v2(exp.key, user_rows))
        inside = np.flatnonzero((sess_day >= window[0]) & (sess_day < window[1]) & (variant[sess_user] >= 0))
        v = variant[sess_user[inside]]
        checkout_p[inside] *= np.asarray(exp.checkout_lift)[v]
        _, first = np.unique(sess_user[inside], return_index=True)  # sessions are in (user, time) order
        expo_sess.append(inside[first])
        expo_prop.append(_EXPOSURE_PROPS + _EXPOSURE_OFFSET[e] + v[first])
    n_expo = np.bincount(np.concatenate(expo_sess or [np.zeros(0, np.int64)]), minlength=n_sess)

    # --- page views: a Markov walk per session, one vectorised step at a time -----------------------------
    force_checkin = checkin_user[sess_user] & (rank == 0)
    carted = np.full(n_sess, -1, dtype=np.int64)
    state = np.zeros(n_sess, dtype=np.int8)  # 0 browsing, 1 checkout → cart next, 2 → confirm next
    live = np.arange(n_sess)
    page = _sample_rows(_FIRST_PAGE_CDF[scene], rng.random(n_sess))
    parts: list[dict[str, npt.NDArray[Any]]] = []
    step = 0
    while live.size:
        n = live.size
        st = state[live]
        if step > 0:
            page = _sample_rows(_TRANSITION_CDF[page], rng.random(n))
            page = np.where(st == 1, P_CART, np.where(st == 2, P_CONFIRM, page))
            if step == 1:
                page = np.where(force_checkin[live] & (st == 0), P_CHECKIN, page)
        is_item = page == P_ITEM
        item = np.where(is_item, _sample(world.item_cdf, rng.random(n)), -1)
        spike = np.where(rng.random(n) < _LOAD_SPIKE_P[page], rng.uniform(3.0, 7.0, n), 1.0)
        load = np.clip(_LOAD_MEDIAN_MS[page] * rng.lognormal(0.0, 0.45, n) * spike, 80, 12_000)
        load = load.astype(np.int64)
        view = np.clip(_VIEW_MEDIAN_MS[page] * rng.lognormal(0.0, 0.9, n), 300, 600_000).astype(np.int64)
        atc = is_item & (rng.random(n) < _P_ADD_TO_CART)
        fav = is_item & (rng.random(n) < _P_FAVORITE)
        com = is_item & (rng.random(n) < _P_COMMENT)
        claim = rng.random(n) < np.where(st == 1, _P_CLAIM_AT_CHECKOUT, _P_CLAIM[page])
        checkin = (page == P_CHECKIN) & force_checkin[live] & (step == 1)
        order = (page == P_CONFIRM) & (st == 2)
        carted[live[atc]] = item[atc]
        cont_p = _CONTINUE_P[page] * np.where(load > _SLOW_LOAD_MS, _SLOW_CONTINUE_FACTOR, 1.0)
        cont = (rng.random(n) < cont_p) & (step < _MAX_BROWSE_STEPS)
        if step == 0:
            cont |= force_checkin[live]
        checkout = (st == 0) & ~cont & (carted[live] >= 0) & (rng.random(n) < checkout_p[live])
        new_state = np.where(st == 1, 2, np.where(st == 2, 3, np.where(checkout, 1, 0))).astype(np.int8)
        keep = np.where(st == 0, cont | checkout, st == 1)
        state[live] = new_state
        parts.append(
            {
                "sess": live,
                "step": np.full(n, step, dtype=np.int64),
                "page": page,
                "item": item,
                "load": load,
                "view": view,
                "atc": atc,
                "fav": fav,
                "com": com,
                "claim": claim,
                "checkin": checkin,
                "order": order,
            }
        )
        live = live[keep]
        page = page[keep]
        step += 1
    # Steps were produced step-major; place each page view at its (session, step) slot.
    pv_sess_unsorted = np.concatenate([p["sess"] for p in parts])
    n_pv_sess = np.bincount(pv_sess_unsorted, minlength=n_sess)
    pv_first = _excl_cumsum(n_pv_sess)
    pos = pv_first[pv_sess_unsorted] + np.concatenate([p["step"] for p in parts])
    inv = np.empty_like(pos)
    inv[pos] = np.arange(pos.size)
    pv: dict[str, npt.NDArray[Any]] = {k: np.concatenate([p[k] for p in parts])[inv] for k in parts[0]}
    pv_sess = pv["sess"]
    n_pv = pv_sess.size
    pv_user = sess_user[pv_sess]
    pv_page = pv["page"]
    pv_item = pv["item"]
    pv_last = pv_first + n_pv_sess - 1

    # --- timing: page dwell plus navigation gaps, squeezed into the room before the user's next session ---
    gap = rng.integers(100, 600, n_pv)
    gap[pv_last] = 0
    launch = np.where(cold, rng.integers(400, 1800, n_sess), rng.integers(50, 300, n_sess))
    hide_delay = 5
    natural = launch + np.add.reduceat(pv["load"] + pv["view"] + gap, pv_first) + hide_delay
    scale = np.minimum(1.0, np.maximum(cap_ms, 1) / natural)
    pv_scale = scale[pv_sess]
    load = (pv["load"] * pv_scale).astype(np.int64)
    view = (pv["view"] * pv_scale).astype(np.int64)
    gap = (gap * pv_scale).astype(np.int64)
    launch = (launch * scale).astype(np.int64)
    seg_ms = load + view + gap
    within = _excl_cumsum(seg_ms)
    within -= within[pv_first[pv_sess]]
    t_pv = start_us[pv_sess] + (launch[pv_sess] + within) * 1000
    t_leave = t_pv + (load + view) * 1000
    t_hide = t_leave[pv_last] + hide_delay * 1000
    sess_duration_ms = (t_hide - start_us) // 1000

    # --- shares (~3% of sessions, on a random page of the session) and who opens them ---------------------
    share_sess = np.flatnonzero(rng.random(n_sess) < _P_SHARE_SESSION * world.share_factor[sess_day])
    share_pv = pv_first[share_sess] + (rng.random(share_sess.size) * n_pv_sess[share_sess]).astype(np.int64)
    share_item = pv_item[share_pv]
    share_user = sess_user[share_sess]
    share_rows = _hex(np.frombuffer(rng.bytes(8 * share_sess.size), np.uint8).reshape(-1, 8))
    pv_share = np.full(n_pv, -1, dtype=np.int64)
    pv_share[share_pv] = np.arange(share_sess.size)
    # Openers pick a share card sent before they open, never their own.
    opener = np.flatnonzero((scene == S_SHARE1) | (scene == S_SHARE_GROUP))
    by_time = np.argsort(t_leave[share_pv], kind="stable")
    n_before = np.searchsorted(t_leave[share_pv][by_time], start_us[opener], side="left")
    pick = (rng.random(opener.size) * n_before).astype(np.int64)
    ok = n_before > 0
    if share_sess.size:
        own = ok & (share_user[by_time[np.minimum(pick, share_sess.size - 1)]] == sess_user[opener])
        alt = np.where(pick > 0, pick - 1, pick + 1)
        pick = np.where(own & (alt < n_before), alt, pick)
        ok &= share_user[by_time[np.minimum(pick, share_sess.size - 1)]] != sess_user[opener]
    failed = opener[~ok]
    scene[failed] = S_RECENT  # nobody shared to them yet: they came back through recents instead
    channel[sess_user[failed[is_acq[failed]]]] = C_ORGANIC
    open_sess = opener[ok]
    open_share = by_time[pick[ok]] if share_sess.size else np.zeros(0, dtype=np.int64)
    has_open = np.zeros(n_sess, dtype=np.int64)
    has_open[open_sess] = 1
    landing = pv_first[open_sess]
    shared_item = share_item[open_share]
    fix = (pv_page[landing] == P_ITEM) & (shared_item >= 0)
    pv_item[landing[fix]] = shared_item[fix]  # a shared item card lands on that item

    # --- orders and coupons ---------------------------------------------------------------------------
    order_pv = np.flatnonzero(pv["order"])
    qty = _sample(_cdf([0.75, 0.2, 0.05]), rng.random(order_pv.size)) + 1
    amount = np.clip(world.item_price[carted[pv_sess[order_pv]]] * qty, 990, 59_900)
    block_width = max(5, len(str(spec.blocks - 1)))
    block_digits = _digits(np.full(order_pv.size, block), block_width)
    order_rows = _prefixed(b"o", np.concatenate([block_digits, _digits(np.arange(order_pv.size), 7)], axis=1))
    claim_pv = np.flatnonzero(pv["claim"])
    claim_template = rng.integers(0, len(_COUPONS), claim_pv.size)
    # Each claim is a coupon of its own (its template goes in properties): redemption is counted per coupon.
    claim_digits = _digits(np.full(claim_pv.size, block), block_width)
    coupon_rows = _prefixed(
        b"c", np.concatenate([claim_digits, _digits(np.arange(claim_pv.size), 7)], axis=1)
    )
    nxt = np.searchsorted(order_pv, claim_pv)  # first order at or after the claim, in (user, time) order
    good = (nxt < order_pv.size) & (rng.random(claim_pv.size) < _P_REDEEM)
    if order_pv.size:
        good &= pv_user[order_pv[np.minimum(nxt, order_pv.size - 1)]] == pv_user[claim_pv]
    redeem_order, first_claim = np.unique(nxt[good], return_index=True)  # one coupon per order
    pv_redeem = np.full(n_pv, -1, dtype=np.int64)
    pv_redeem[order_pv[redeem_order]] = np.flatnonzero(good)[first_claim]  # the claim's own coupon
    pv_order_no = np.full(n_pv, -1, dtype=np.int64)
    pv_order_no[order_pv] = np.arange(order_pv.size)

    # --- layout: [app_launch?, app_show, exposure*, share_open?, (page_view, perf, extras…, page_leave)*, app_hide]
    # The SDK sends app_show on every start: after app_launch on a cold one, alone on a return from background.
    n_launch = cold.astype(np.int64)
    extras: list[tuple[int, BoolArray]] = [
        (K_VIEW_ITEM, pv_page == P_ITEM),
        (K_FAVORITE, pv["fav"]),
        (K_COMMENT, pv["com"]),
        (K_ADD_TO_CART, pv["atc"]),
        (K_SHARE, pv_share >= 0),
        (K_SEARCH, pv_page == P_SEARCH),
        (K_COUPON_CLAIMED, pv["claim"]),
        (K_CHECKIN, pv["checkin"]),
        (K_ORDER_PAID, pv["order"]),
        (K_COUPON_REDEEMED, pv_redeem >= 0),
    ]
    n_extra = np.zeros(n_pv, dtype=np.int64)
    for _, flag in extras:
        n_extra += flag
    pv_size = 3 + n_extra
    sess_size = 2 + n_launch + n_expo + has_open + np.add.reduceat(pv_size, pv_first)
    sess_off = _excl_cumsum(sess_size)
    n_ev = int(sess_size.sum())
    pv_within = _excl_cumsum(pv_size)
    pv_within -= pv_within[pv_first[pv_sess]]
    pv_off = sess_off[pv_sess] + 1 + n_launch[pv_sess] + n_expo[pv_sess] + has_open[pv_sess] + pv_within

    kind = np.empty(n_ev, dtype=np.int8)
    ts = np.empty(n_ev, dtype=np.int64)
    ev_pv = np.full(n_ev, -1, dtype=np.int64)
    ev_sess = np.repeat(np.arange(n_sess), sess_size)
    duration = np.zeros(n_ev, dtype=np.int64)
    load_ev = np.zeros(n_ev, dtype=np.int64)
    item_ev = np.full(n_ev, -1, dtype=np.int64)
    amount_ev = np.zeros(n_ev, dtype=np.int64)
    order_ev = np.full(n_ev, -1, dtype=np.int64)
    coupon_ev = np.full(n_ev, -1, dtype=np.int64)
    share_ev = np.full(n_ev, -1, dtype=np.int64)
    props_ev = np.full(n_ev, -1, dtype=np.int64)
    campaign_ev = np.full(n_ev, -1, dtype=np.int64)

    kind[sess_off] = np.where(cold, K_LAUNCH, K_SHOW)
    ts[sess_off] = start_us
    show_pos = sess_off[cold] + 1
    kind[show_pos] = K_SHOW
    ts[show_pos] = start_us[cold]
    campaign_ev[sess_off[is_acq]] = campaign[sess_user[is_acq]]
    hide_pos = sess_off + sess_size - 1
    kind[hide_pos] = K_HIDE
    ts[hide_pos] = t_hide
    duration[hide_pos] = sess_duration_ms
    # Exposures right after app_show: the SDK asks for its flags when the app starts.
    expo_seen = np.zeros(n_sess, dtype=np.int64)
    for sess, prop in zip(expo_sess, expo_prop, strict=True):
        pos = sess_off[sess] + 1 + n_launch[sess] + expo_seen[sess]
        kind[pos] = K_EXPOSURE
        ts[pos] = start_us[sess]
        props_ev[pos] = prop
        expo_seen[sess] += 1
    open_pos = sess_off[open_sess] + 1 + n_launch[open_sess] + n_expo[open_sess]
    kind[open_pos] = K_SHARE_OPEN
    ts[open_pos] = start_us[open_sess]
    share_ev[open_pos] = open_share
    item_ev[open_pos] = shared_item

    pv_idx = np.arange(n_pv)
    kind[pv_off] = K_PAGE_VIEW
    ts[pv_off] = t_pv
    ev_pv[pv_off] = pv_idx
    kind[pv_off + 1] = K_PERF
    ts[pv_off + 1] = t_pv + load * 1000
    ev_pv[pv_off + 1] = pv_idx
    load_ev[pv_off + 1] = load
    leave_pos = pv_off + pv_size - 1
    kind[leave_pos] = K_PAGE_LEAVE
    ts[leave_pos] = t_leave
    ev_pv[leave_pos] = pv_idx
    duration[leave_pos] = load + view

    n_search = int(np.count_nonzero(pv_page == P_SEARCH))
    keyword = _sample(_KEYWORD_CDF, rng.random(n_search))
    comment_len = np.minimum(rng.geometric(1 / 40, int(np.count_nonzero(pv["com"]))), _MAX_COMMENT_LEN)
    cur = np.zeros(n_pv, dtype=np.int64)
    for k, flag in extras:  # one pass per event kind, placing it after the kinds before it on that page
        idx = np.flatnonzero(flag)
        p = pv_off[idx] + 2 + cur[idx]
        kind[p] = k
        ev_pv[p] = idx
        ts[p] = t_pv[idx] + (load[idx] + (cur[idx] + 1) * view[idx] // (n_extra[idx] + 1)) * 1000
        cur[idx] += 1
        if k in (K_VIEW_ITEM, K_FAVORITE, K_COMMENT, K_ADD_TO_CART, K_SHARE):
            item_ev[p] = pv_item[idx]
        if k == K_SHARE:
            share_ev[p] = pv_share[idx]
        elif k == K_SEARCH:
            props_ev[p] = keyword
        elif k == K_COMMENT:
            props_ev[p] = len(_KEYWORDS) + comment_len - 1
        elif k == K_COUPON_CLAIMED:
            coupon_ev[p] = np.arange(claim_pv.size)
            props_ev[p] = _TEMPLATE_PROPS + claim_template
        elif k == K_ORDER_PAID:
            order_ev[p] = pv_order_no[idx]
            amount_ev[p] = amount
        elif k == K_COUPON_REDEEMED:
            order_ev[p] = pv_order_no[idx]
            coupon_ev[p] = pv_redeem[idx]

    # --- columns ----------------------------------------------------------------------------------------
    anon_rows = _prefixed(b"a", user_digits)
    sess_no = np.arange(n_sess) - _excl_cumsum(np.bincount(sess_user, minlength=n_users))[sess_user]
    sess_width = max(4, len(str(_MAX_SESSIONS * n_days)))
    sess_rows = np.concatenate(
        [_prefixed(b"s", user_digits[sess_user]), _prefixed(b"-", _digits(sess_no, sess_width))], axis=1
    )
    ev_user = sess_user[ev_sess]
    ev_page = np.where(ev_pv >= 0, pv_page[np.maximum(ev_pv, 0)], -1)
    has_share = share_ev >= 0
    share_of_ev = share_ev[has_share]
    has_order = order_ev >= 0
    has_coupon = coupon_ev >= 0
    ts_arr = _timestamps(ts)
    app_id = np.frombuffer(spec.app_id.encode(), np.uint8)
    app_rows = np.broadcast_to(app_id, (n_ev, app_id.size))
    arrays = [
        _fixed_strings(app_rows),
        _fixed_strings(_uuid4_rows(rng, n_ev)),
        _pick(_NAME_POOL, kind),
        ts_arr,
        _fixed_strings(user_rows[ev_user]),
        _fixed_strings(anon_rows[ev_user]),
        _fixed_strings(sess_rows[ev_sess]),
        _pick(_PAGE_POOL, ev_page, ev_page >= 0),
        _ints(_SCENE_VALUES[scene][ev_sess], pa.int32()),
        _pick(_CHANNEL_POOL, channel[ev_user]),
        _ints(duration, pa.int64(), (kind == K_HIDE) | (kind == K_PAGE_LEAVE)),
        _ints(load_ev, pa.int64(), kind == K_PERF),
        _pick(_ITEM_POOL, item_ev, item_ev >= 0),
        _ints(amount_ev, pa.int64(), kind == K_ORDER_PAID),
        _fixed_strings(order_rows[order_ev[has_order]], has_order),
        _fixed_strings(coupon_rows[coupon_ev[has_coupon]], has_coupon),
        _fixed_strings(user_rows[share_user[share_of_ev]], has_share),
        _fixed_strings(share_rows[share_of_ev], has_share),
        _pick(_CAMPAIGN_POOL, campaign_ev, campaign_ev >= 0),
        _pick(_PROPERTIES_POOL, props_ev, props_ev >= 0),
        _pick(_SOURCE_POOL, _SOURCE_OF_KIND[kind]),
        ts_arr,
    ]
    batch = pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)
    user_offsets = np.append(sess_off[is_acq], n_ev)
    return _Block(batch=batch, user_offsets=user_offsets)


# ---------------------------------------------------------------------------------------------------------
# Public API


def _concat(batches: Sequence[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)


def generate(spec: DemoSpec, *, batch_users: int = 50_000) -> Iterator[pa.RecordBatch]:
    """Yield event batches of `batch_users` users each (the last may be smaller), sorted by (user, ts)."""
    if batch_users < 1:
        raise ValueError("batch_users must be positive")
    pending: list[pa.RecordBatch] = []
    need = batch_users
    for block in range(spec.blocks):
        out = _generate_block(spec, block)
        offsets = out.user_offsets
        n_users = offsets.size - 1
        u = 0
        while u < n_users:
            take = min(need, n_users - u)
            start, stop = int(offsets[u]), int(offsets[u + take])
            pending.append(out.batch.slice(start, stop - start))
            u += take
            need -= take
            if need == 0:
                yield _concat(pending)
                pending, need = [], batch_users
    if pending:
        yield _concat(pending)


def write_parquet(spec: DemoSpec, directory: Path, *, batch_users: int = 50_000) -> GenerationResult:
    """Write all events to `directory/events.parquet` (zstd), one row group per batch, in one process."""
    t0 = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "events.parquet"
    events = 0
    with pq.ParquetWriter(path, EVENT_SCHEMA, **_PARQUET_OPTIONS) as writer:
        for batch in generate(spec, batch_users=batch_users):
            writer.write_batch(batch, row_group_size=max(batch.num_rows, 1))
            events += batch.num_rows
    return GenerationResult(events=events, files=(path,), seconds=time.perf_counter() - t0)


def _write_part(task: tuple[DemoSpec, Path, int, int]) -> tuple[Path, int]:
    spec, directory, part, blocks_per_file = task
    path = directory / f"part-{part:05d}.parquet"
    events = 0
    first = part * blocks_per_file
    with pq.ParquetWriter(path, EVENT_SCHEMA, **_PARQUET_OPTIONS) as writer:
        for block in range(first, min(first + blocks_per_file, spec.blocks)):
            batch = _generate_block(spec, block).batch
            writer.write_batch(batch, row_group_size=max(batch.num_rows, 1))
            events += batch.num_rows
    return path, events


def write_parquet_parallel(
    spec: DemoSpec,
    directory: Path,
    *,
    workers: int | None = None,
    blocks_per_file: int = BLOCKS_PER_FILE,
) -> GenerationResult:
    """Write `part-NNNNN.parquet` files (one per `blocks_per_file` blocks) using a process pool.

    The file set and each file's content depend only on the spec and `blocks_per_file`, never on `workers`
    (default: CPU count); parts are handed out dynamically, so uneven blocks still balance across workers.
    """
    if blocks_per_file < 1:
        raise ValueError("blocks_per_file must be positive")
    t0 = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    n_parts = math.ceil(spec.blocks / blocks_per_file)
    tasks = [(spec, directory, part, blocks_per_file) for part in range(n_parts)]
    n_workers = max(1, min(workers or os.cpu_count() or 1, n_parts))
    if n_workers == 1:
        results = [_write_part(t) for t in tasks]
    else:
        # spawn: forking a process that already runs Arrow thread pools can deadlock.
        with mp.get_context("spawn").Pool(n_workers) as pool:
            results = list(pool.imap_unordered(_write_part, tasks))
    results.sort()
    return GenerationResult(
        events=sum(n for _, n in results),
        files=tuple(p for p, _ in results),
        seconds=time.perf_counter() - t0,
    )

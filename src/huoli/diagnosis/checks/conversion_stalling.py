"""Conversion stalling: promotion participation, order rate, coupon redemption, core-path funnel steps."""

from __future__ import annotations

from typing import Any, Final

from huoli.analytics import funnels
from huoli.diagnosis import stats
from huoli.diagnosis.checks import register
from huoli.diagnosis.checks.base import Candidate, Check, Context, window_drill
from huoli.errors import HuoliError

SIGNAL: Final = "conversion_stalling"


class ConversionRate(Check):
    """A `conversion` rate (numerator ÷ denominator per window) falling against the baseline windows."""

    signal = SIGNAL
    unit = "rate"

    def __init__(self, id: str, key: str, den_key: str, num_key: str | None, title: dict[str, str]) -> None:
        self.id = id  # type: ignore[misc]  # one instance per conversion rate
        self.reads = (f"conversion.{key}",)  # type: ignore[misc]
        self.key, self.den_key, self.num_key, self.title = key, den_key, num_key, title

    def _num(self, row: dict[str, Any]) -> int:
        if self.num_key is not None:
            return int(row[self.num_key])
        return round((row[self.key] or 0) * int(row["active_users"]))  # participants = rate × active

    def run(self, ctx: Context) -> list[Candidate]:
        th, key = ctx.th, self.key
        cur, base = ctx.window_data()
        c = cur["conversion"]
        bs = [w["conversion"] for w in base if w["conversion"]]
        n1 = int(c[self.den_key]) if c else 0
        n0 = sum(int(w[self.den_key]) for w in bs)
        if n1 < th.min_sample or n0 < th.min_sample:
            return self.skip(ctx, f"too few {self.den_key.replace('_', ' ')}")
        assert c is not None  # n1 ≥ min_sample ≥ 1
        k1, k0 = self._num(c), sum(self._num(w) for w in bs)
        if k0 == 0:
            return self.skip(ctx, "nothing to compare with in the baseline")
        p1, p0 = k1 / n1, k0 / n0
        extra = {"promotion_events": th.promotion_events} if th.promotion_events else {}
        return self.change(
            ctx,
            title=self.title,
            metric=f"conversion.{key}",
            current=p1,
            baseline=p0,
            evidence=stats.two_proportions(k1, n1, k0, n0, "down"),
            direction="down",
            users_affected=round((p0 - p1) * n1) if self.num_key != "coupons_redeemed" else n1 - k1,
            drilldown=window_drill("conversion", ctx.win_requests(extra), [f"result.0.{key}"]),
            # Every window, empty ones as None: `bs` drops them, so it cannot be paired with windows().
            detail={"windows": ctx.per_window(lambda w: w["conversion"][key] if w["conversion"] else None)},
        )


class FunnelSteps(Check):
    """Core path: a step keeping less than 1 − `max_step_loss` of the previous step's users."""

    id = "conversion.funnel_step"
    signal = SIGNAL
    unit = "rate"
    reads = ("funnel.steps.conversion_from_previous",)

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        steps = [s.model_dump() for s in th.core_path]
        try:
            fr = funnels.compute(ctx.frame(*ctx.cur), funnels.FunnelSpec.model_validate({"steps": steps}))
        except HuoliError as exc:
            return self.skip(ctx, exc.message)
        rows = fr["steps"]
        out = []
        for k in range(1, len(rows)):
            cid = f"{self.id}_{k + 1}"
            prev, now = int(rows[k - 1]["users"]), int(rows[k]["users"])
            if prev < th.min_sample:
                ctx.skip(cid, "too few users reached the previous step")
                continue
            conv = now / prev
            keep = 1 - th.max_step_loss
            out.append(
                self.below(
                    id=cid,
                    title={
                        "zh": f"核心路径第 {k + 1} 步（{rows[k]['event']}）流失过半",
                        "en": f"Core path step {k + 1} ({rows[k]['event']}) loses over half its users",
                    },
                    metric=f"funnel.steps.{k}.conversion_from_previous",
                    current=conv,
                    evidence=stats.rate_vs_threshold(now, prev, keep, "down"),
                    threshold=keep,
                    users_affected=prev - now,
                    drilldown=window_drill(
                        "funnel",
                        ctx.win_requests({"steps": steps}),
                        [f"result.steps.{k}.conversion_from_previous"],
                    ),
                    detail={
                        "step": k + 1,
                        "event": rows[k]["event"],
                        "from": rows[k - 1]["event"],
                        "users_before": prev,
                        "users_after": now,
                        "max_step_loss": th.max_step_loss,
                    },
                )
            )
        return out


register(
    ConversionRate(
        "conversion.promotion_participation",
        "promotion_participation_rate",
        "active_users",
        None,
        {"zh": "活动参与率下降", "en": "Promotion participation falling"},
    ),
    ConversionRate(
        "conversion.order_rate",
        "order_rate",
        "active_users",
        "order_users",
        {"zh": "下单率下降", "en": "Order rate falling"},
    ),
    ConversionRate(
        "conversion.coupon_redemption",
        "coupon_redeem_rate",
        "coupons_claimed",
        "coupons_redeemed",
        {"zh": "优惠券核销率下降", "en": "Coupon redemption falling"},
    ),
    FunnelSteps(),
)

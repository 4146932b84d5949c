"""Interaction near zero: comment, share and favorite rates; share reflow."""

from __future__ import annotations

from typing import Final

from huoli.diagnosis import stats
from huoli.diagnosis.checks import register
from huoli.diagnosis.checks.base import Candidate, Check, Context, window_drill

SIGNAL: Final = "interaction_near_zero"
NAMES = {"comment": ("评论", "Comment"), "share": ("分享", "Share"), "favorite": ("收藏", "Favorite")}


class InteractionRate(Check):
    """Users doing `kind` ÷ active users, against `interaction_min_rate`."""

    signal = SIGNAL
    unit = "rate"

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.id = f"interaction.{kind}_rate"  # type: ignore[misc]  # one instance per interaction kind
        self.reads = (f"interaction.{kind}.rate",)  # type: ignore[misc]

    def run(self, ctx: Context) -> list[Candidate]:
        th, k = ctx.th, self.kind
        cur, base = ctx.window_data()
        row = cur["interaction"]
        if row is None or row["active_users"] < th.min_sample:
            return self.skip(ctx, "too few active users")
        active = int(row["active_users"])
        users = int(row[k]["users"])
        rate = users / active
        b_act = sum(int(w["interaction"]["active_users"]) for w in base if w["interaction"])
        b_users = sum(int(w["interaction"][k]["users"]) for w in base if w["interaction"])
        zh, en = NAMES[k]
        return [
            self.below(
                title={"zh": f"{zh}率接近零", "en": f"{en} rate near zero"},
                metric=f"interaction.{k}.rate",
                current=rate,
                baseline=b_users / b_act if b_act else None,
                evidence=stats.rate_vs_threshold(users, active, th.interaction_min_rate, "down"),
                threshold=th.interaction_min_rate,
                users_affected=active - users,
                drilldown=window_drill("interaction", ctx.win_requests(), [f"result.0.{k}.rate"]),
                detail={"threshold": th.interaction_min_rate, "users": users, "active_users": active},
            )
        ]


class ShareReflow(Check):
    """Share opens ÷ shares (分享回流比) against `share_reflow_min`."""

    id = "interaction.share_reflow"
    signal = SIGNAL
    unit = "ratio"
    reads = ("acquisition.sharing.reflow_ratio",)

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        cur, base = ctx.window_data()
        sh = cur["sharing"]
        if sh["shares"] < th.min_sample:
            return self.skip(ctx, "too few shares")
        reflow = sh["share_opens"] / sh["shares"]
        b_sh = sum(w["sharing"]["shares"] for w in base)
        b_op = sum(w["sharing"]["share_opens"] for w in base)
        return [
            self.below(
                title={"zh": "分享回流弱", "en": "Weak share reflow"},
                metric="acquisition.sharing.reflow_ratio",
                current=reflow,
                baseline=b_op / b_sh if b_sh else None,
                evidence=stats.poisson_vs_threshold(sh["share_opens"], sh["shares"], th.share_reflow_min),
                threshold=th.share_reflow_min,
                users_affected=sh["sharers"],
                drilldown=window_drill("acquisition", ctx.win_requests(), ["result.sharing.reflow_ratio"]),
                detail={
                    "threshold": th.share_reflow_min,
                    "shares": sh["shares"],
                    "share_opens": sh["share_opens"],
                },
            )
        ]


register(*(InteractionRate(k) for k in NAMES), ShareReflow())

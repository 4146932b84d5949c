"""Platform-rule checks (《微信小程序平台运营规范》 滥用分享) and the rule text the mini-program shows.

A configuration is refused when it rewards the act of sharing (a share can't be verified since base
library 2.3.0: rewards follow the recipient's action), hides its rules, makes outcomes random or unstated,
or runs distribution deeper than 2 levels or on anything but paid orders.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from huoli.errors import ValidationFailed
from huoli.promotions.schemas import (
    BargainCampaignIn,
    CouponTemplateIn,
    DistributionConfigIn,
    GroupCampaignIn,
    ReferralProgramIn,
)

Violation = dict[str, str]

# Triggers that are the sharer's own act (or a bare open without registration): never rewardable.
SHARE_TRIGGERS = frozenset({"share", "share_to_chat", "share_to_group", "share_to_moments", "open", "view"})
COUPON_TRIGGERS = frozenset({"user_claim", "targeted", "new_user", "reward"})
QUALIFYING_ACTIONS = frozenset({"first_order", "registration"})


def _yuan(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen / 100:.2f}"


def _rules_visible(spec: Any) -> list[Violation]:
    if not getattr(spec, "show_rules", True):
        return [{"field": "show_rules", "message": "活动规则必须向用户展示 (rules must be shown to users)"}]
    text = getattr(spec, "rules_text", None)
    if text is not None and len(text.strip()) < 10:
        return [{"field": "rules_text", "message": "rules text too short to state the rules"}]
    return []


def check_coupon_template(spec: CouponTemplateIn) -> list[Violation]:
    out = _rules_visible(spec)
    if spec.claim_trigger in SHARE_TRIGGERS:
        out.append(
            {"field": "claim_trigger", "message": "coupons may not reward sharing (分享得券 is banned)"}
        )
    elif spec.claim_trigger not in COUPON_TRIGGERS:
        out.append({"field": "claim_trigger", "message": f"one of {sorted(COUPON_TRIGGERS)}"})
    return out


def check_group(spec: GroupCampaignIn) -> list[Violation]:
    return _rules_visible(spec)


def check_bargain(spec: BargainCampaignIn) -> list[Violation]:
    out = _rules_visible(spec)
    if spec.random_cuts:
        out.append({"field": "random_cuts", "message": "bargain outcomes must be fixed and stated up front"})
    return out


def check_referral(spec: ReferralProgramIn) -> list[Violation]:
    out = _rules_visible(spec)
    if spec.qualifying_action in SHARE_TRIGGERS:
        out.append(
            {
                "field": "qualifying_action",
                "message": "rewards must follow the invitee's action (first_order or registration), not a share",
            }
        )
    elif spec.qualifying_action not in QUALIFYING_ACTIONS:
        out.append({"field": "qualifying_action", "message": f"one of {sorted(QUALIFYING_ACTIONS)}"})
    return out


def check_distribution(spec: DistributionConfigIn) -> list[Violation]:
    out = _rules_visible(spec)
    if spec.levels > 2:
        out.append({"field": "levels", "message": "distribution is limited to 2 levels"})
    if spec.levels == 1 and spec.level2_bp:
        out.append({"field": "level2_bp", "message": "level-2 commission needs levels = 2"})
    if spec.commission_on != "paid_order":
        out.append({"field": "commission_on", "message": "commission is paid on paid orders only"})
    return out


_SCHEMAS: dict[str, tuple[type[BaseModel], Any]] = {
    "coupon": (CouponTemplateIn, check_coupon_template),
    "group": (GroupCampaignIn, check_group),
    "bargain": (BargainCampaignIn, check_bargain),
    "referral": (ReferralProgramIn, check_referral),
    "distribution": (DistributionConfigIn, check_distribution),
}


KINDS = tuple(_SCHEMAS)


def check(kind: str, config: dict[str, Any]) -> tuple[list[Violation], str | None]:
    """Dry run for the admin UI: (violations, the rule text users would see)."""
    model, checker = _SCHEMAS[kind]
    try:
        spec = model.model_validate(config)
    except ValidationError as exc:
        return [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()], None
    violations = checker(spec)
    return violations, (None if violations else rules_text(kind, spec))


def enforce(violations: list[Violation]) -> None:
    if violations:
        raise ValidationFailed(
            "configuration breaks the platform rules", details=violations, code="compliance_rejected"
        )


def coupon_rules_text(spec: CouponTemplateIn) -> str:
    if spec.kind == "fixed":
        value = f"无门槛立减{_yuan(spec.amount_fen)}元"
    elif spec.kind == "threshold":
        value = f"满{_yuan(spec.threshold_fen)}元减{_yuan(spec.amount_fen)}元"
    else:
        value = f"{(100 - spec.percent_off) / 10:g}折"
        if spec.max_discount_fen:
            value += f"，最多优惠{_yuan(spec.max_discount_fen)}元"
    when = (
        f"领取后{spec.valid_days}天内有效"
        if spec.valid_days
        else f"有效期{spec.valid_from:%Y-%m-%d %H:%M}至{spec.valid_until:%Y-%m-%d %H:%M}"
    )
    scope = {"all": "全场通用", "category": "限指定品类使用", "items": "限指定商品使用"}[spec.scope]
    stack = "可与其他可叠加券同时使用" if spec.stackable else "不可与其他优惠券叠加"
    limit = f"每人限领{spec.per_user_limit}张"
    if spec.total_limit:
        limit += f"，共{spec.total_limit}张，领完即止"
    return f"{spec.name}：{value}；{when}；{scope}；{stack}；{limit}。"


def group_rules_text(spec: GroupCampaignIn) -> str:
    hours = spec.duration_s / 3600
    leader = (
        f"团长价{_yuan(spec.leader_price_fen)}元；"
        if spec.leader_price_fen is not None and spec.leader_price_fen < spec.group_price_fen
        else ""
    )
    fill = f"开团后满{spec.fill_min_real}人即可由商家补足成团；" if spec.fill_policy == "fill" else ""
    return (
        f"{spec.name}：{spec.size}人成团，拼团价{_yuan(spec.group_price_fen)}元"
        f"（原价{_yuan(spec.original_price_fen)}元）；{leader}参团需先支付；"
        f"开团后{hours:g}小时内未成团，已付款项自动原路退回；{fill}"
    )


def bargain_rules_text(spec: BargainCampaignIn) -> str:
    return (
        f"{spec.name}：原价{_yuan(spec.price_fen)}元，邀请{spec.helpers_needed}位好友助力即可以"
        f"{_yuan(spec.floor_fen)}元购买；每位好友每次活动限助力1次，每次砍价金额在发起时已确定；"
        f"发起后{spec.duration_s / 3600:g}小时内有效。"
    )


def referral_rules_text(spec: ReferralProgramIn) -> str:
    action = "完成首单" if spec.qualifying_action == "first_order" else "完成注册"
    return (
        f"{spec.name}：好友通过你的邀请首次打开小程序并{action}后，你和好友各得一份奖励；"
        f"每人最多获得{spec.max_rewards_per_referrer}次邀请奖励；不可邀请自己。"
    )


def distribution_rules_text(spec: DistributionConfigIn) -> str:
    rates = f"一级佣金{spec.level1_bp / 100:g}%"
    if spec.levels == 2:
        rates += f"，二级佣金{spec.level2_bp / 100:g}%"
    mode = {"permanent": "永久绑定", "window": f"绑定{spec.binding_days}天", "latest": "以最近一次推荐为准"}
    return (
        f"分销规则：{rates}，按订单实付金额计算，仅在订单支付后产生；售后期{spec.freeze_days}天后入账，"
        f"退款订单佣金撤回；客户关系{mode[spec.binding_mode]}；满{_yuan(spec.min_withdraw_fen)}元可提现。"
    )


def rules_text(kind: str, spec: Any) -> str:
    if getattr(spec, "rules_text", None):
        return str(spec.rules_text)
    makers: dict[str, Any] = {
        "coupon": coupon_rules_text,
        "group": group_rules_text,
        "bargain": bargain_rules_text,
        "referral": referral_rules_text,
        "distribution": distribution_rules_text,
    }
    return str(makers[kind](spec))

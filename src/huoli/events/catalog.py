"""The standard event catalog (docs/events.md is generated from the same facts).

Each entry: what the event means, which properties it must carry with their types, and whether only the
server may send it (anything that depends on money follows a signed server call, never the client).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EventSpec:
    description: str
    required: dict[str, type] = field(default_factory=dict)
    optional: dict[str, type] = field(default_factory=dict)
    server_only: bool = False
    needs_page: bool = False


CATALOG: dict[str, EventSpec] = {
    "app_launch": EventSpec(
        "Cold start of the mini-program (打开, counts toward 打开次数).", optional={"path": str}
    ),
    "app_show": EventSpec(
        "The mini-program came to the foreground (warm start or after launch).", optional={"path": str}
    ),
    "app_hide": EventSpec("The mini-program went to the background.", required={"duration_ms": int}),
    "page_view": EventSpec("A page was shown (访问次数).", optional={"referrer_page": str}, needs_page=True),
    "page_leave": EventSpec(
        "A page view ended; duration_ms is its dwell time.", required={"duration_ms": int}, needs_page=True
    ),
    "share": EventSpec(
        "The user opened the share sheet and a share card path was produced (unverifiable since base lib 2.3.0).",
        required={"share_id": str},
        optional={"sharer_id": str, "campaign": str, "target_path": str, "to": str},
    ),
    "share_open": EventSpec(
        "The app was opened from a shared card (回流); sharer_id is who shared it.",
        required={"share_id": str, "sharer_id": str},
        optional={"campaign": str},
    ),
    "favorite": EventSpec(
        "The user added the mini-program or an item to favorites.", optional={"item_id": str}
    ),
    "comment": EventSpec("The user posted a comment or review.", optional={"item_id": str, "length": int}),
    "search": EventSpec("The user searched.", optional={"keyword": str, "results": int}),
    "view_item": EventSpec("An item detail was viewed.", required={"item_id": str}),
    "add_to_cart": EventSpec(
        "An item was added to the cart.", required={"item_id": str}, optional={"amount_fen": int}
    ),
    "order_paid": EventSpec(
        "An order was paid (reported by the merchant backend only).",
        required={"order_id": str, "amount_fen": int},
        server_only=True,
    ),
    "order_refunded": EventSpec(
        "An order was (partly) refunded (merchant backend only).",
        required={"order_id": str, "amount_fen": int},
        server_only=True,
    ),
    "order_cancelled": EventSpec(
        "An order was cancelled before payment (merchant backend only).",
        required={"order_id": str},
        server_only=True,
    ),
    "coupon_claimed": EventSpec("A coupon was claimed.", required={"coupon_id": str}, server_only=True),
    "coupon_redeemed": EventSpec(
        "A coupon was used on an order.",
        required={"coupon_id": str},
        optional={"order_id": str},
        server_only=True,
    ),
    "coupon_expired": EventSpec(
        "A claimed coupon expired unused.", required={"coupon_id": str}, server_only=True
    ),
    "checkin": EventSpec("A daily check-in (签到).", optional={"streak": int}, server_only=True),
    "perf": EventSpec(
        "Page load performance; load_ms from onLoad to onReady.", required={"load_ms": int}, needs_page=True
    ),
    "login": EventSpec(
        "The user logged in with wx.login (server side, on /v1/auth/wechat).", server_only=True
    ),
    "experiment_exposure": EventSpec(
        "A user was first assigned to an experiment variant (logged once per user and experiment).",
        required={"experiment": str, "variant": str},
        optional={"flag": str},
        server_only=True,
    ),
    "experiment_started": EventSpec(
        "An experiment started (or restarted).", required={"experiment": str}, server_only=True
    ),
    "experiment_stopped": EventSpec(
        "An experiment stopped; shipped_variant is set when a variant was shipped to everyone.",
        required={"experiment": str},
        optional={"shipped_variant": str},
        server_only=True,
    ),
    "flag_changed": EventSpec(
        "A feature flag was created, changed, killed, revived or deleted.",
        required={"flag": str, "action": str},
        optional={"version": int, "killed": bool},
        server_only=True,
    ),
    "preferences_updated": EventSpec(
        "The user changed display preferences (font size, units, theme).",
        optional={"font_size": str, "units": str, "theme": str},
        server_only=True,
    ),
    "points_earned": EventSpec(
        "Loyalty points were credited (a lot; may be pending).",
        required={"points": int, "reason": str},
        optional={"ref": str},
        server_only=True,
    ),
    "points_spent": EventSpec(
        "Loyalty points were spent.",
        required={"points": int, "reason": str},
        optional={"ref": str},
        server_only=True,
    ),
    "points_reversed": EventSpec(
        "A refund clawed back earned points and/or restored spent points of an order.",
        required={"order_id": str, "points": int},
        optional={"restored": int, "unrecovered": int},
        server_only=True,
    ),
    "points_expired": EventSpec("Points expired unused.", required={"points": int}, server_only=True),
    "points_expiring_soon": EventSpec(
        "Points will expire within the app's warning window.",
        required={"points": int, "expires_at": str},
        server_only=True,
    ),
    "loyalty_reward": EventSpec(
        "A loyalty reward was granted (check-in milestone, task); a coupon reward names the coupon issued, or "
        "why none could be (coupon_error: the promotions error code).",
        required={"reward_type": str, "source": str},
        optional={"ref": str, "amount": int, "coupon_id": str, "coupon_error": str},
        server_only=True,
    ),
    "badge_awarded": EventSpec("A badge (勋章) was awarded.", required={"badge": str}, server_only=True),
    "task_completed": EventSpec(
        "A loyalty task or achievement was completed.", required={"task": str}, server_only=True
    ),
    "tier_changed": EventSpec(
        "A member's tier changed (instant upgrade or policy downgrade).",
        required={"from_tier": str, "to_tier": str},
        server_only=True,
    ),
    "mall_redeemed": EventSpec(
        "A points-mall item was redeemed (a coupon item names the coupon issued).",
        required={"item_id": str, "points": int},
        optional={"kind": str, "ref": str, "coupon_id": str},
        server_only=True,
    ),
    # promotions (docs/promotions.md); every one is written by the server inside the business transaction
    "coupon_locked": EventSpec(
        "A coupon was reserved for an order at checkout.",
        required={"coupon_id": str, "order_id": str},
        server_only=True,
    ),
    "coupon_released": EventSpec(
        "A locked coupon went back to the user (order cancelled or checkout timed out).",
        required={"coupon_id": str, "order_id": str},
        server_only=True,
    ),
    "coupon_rolled_back": EventSpec(
        "A redeemed coupon went back to the user because its order was refunded.",
        required={"coupon_id": str, "order_id": str},
        server_only=True,
    ),
    "flashsale_reserved": EventSpec(
        "A flash-sale (秒杀) attempt won a unit of stock.", required={"item_id": str}, server_only=True
    ),
    "flashsale_paid": EventSpec(
        "A flash-sale reservation was paid in time.", required={"order_id": str}, server_only=True
    ),
    "flashsale_expired": EventSpec(
        "A flash-sale reservation gave its stock back (unpaid in time or cancelled).", server_only=True
    ),
    "group_opened": EventSpec("A leader paid and opened a group buy (拼团).", server_only=True),
    "group_joined": EventSpec("A member paid and joined a group buy.", server_only=True),
    "group_join_rejected": EventSpec(
        "A paid join arrived after the group closed or filled; the payment is refunded.", server_only=True
    ),
    "group_succeeded": EventSpec("A group buy reached its size (or was filled by policy).", server_only=True),
    "group_failed": EventSpec("A group buy missed its deadline; every member is refunded.", server_only=True),
    "promo_refund_succeeded": EventSpec(
        "A promotion refund was accepted by WeChat Pay.", required={"amount_fen": int}, server_only=True
    ),
    "bargain_started": EventSpec(
        "A user started a bargain (砍价).", required={"item_id": str}, server_only=True
    ),
    "bargain_helped": EventSpec("A friend helped a bargain (one pre-allocated cut).", server_only=True),
    "bargain_completed": EventSpec("A bargain reached its floor price.", server_only=True),
    "bargain_expired": EventSpec("A bargain expired before reaching its floor.", server_only=True),
    "referral_bound": EventSpec("An invitee opened the app from an invite and was bound.", server_only=True),
    "referral_rewarded": EventSpec(
        "A referral qualified (invitee's first order or registration) and was rewarded.", server_only=True
    ),
    "distribution_bound": EventSpec("A customer was bound to a distributor (分销).", server_only=True),
    "commission_created": EventSpec(
        "A paid order created a frozen commission.",
        required={"order_id": str, "amount_fen": int},
        server_only=True,
    ),
    "commission_credited": EventSpec(
        "A commission left its freeze window and became withdrawable.",
        required={"amount_fen": int},
        server_only=True,
    ),
    "commission_reversed": EventSpec(
        "A commission was reversed because its order was refunded.",
        required={"order_id": str},
        server_only=True,
    ),
    "withdrawal_requested": EventSpec(
        "A distributor requested a withdrawal.", required={"amount_fen": int}, server_only=True
    ),
    "reward_blocked": EventSpec(
        "A fission reward was refused by a velocity limit or the WeChat risk rank.", server_only=True
    ),
    # catalog (docs/catalog.md): written in the sync's transaction when an item's availability flips
    "catalog_item_unavailable": EventSpec(
        "A catalog item went off the shelf or out of stock (reason: off_shelf | out_of_stock).",
        required={"item_id": str},
        optional={"reason": str},
        server_only=True,
    ),
    "catalog_item_available": EventSpec(
        "A catalog item is on sale with stock again.", required={"item_id": str}, server_only=True
    ),
}

# Custom events: same name rules, any properties, never a reserved name.
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

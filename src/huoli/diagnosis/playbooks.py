"""The playbook catalog: what to do about each finding, and which huoli capability does it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Link:
    """A console page that acts on a playbook: its route (`#/<page id>`) and its name as the nav shows it."""

    page: str
    label: dict[str, str]

    @property
    def href(self) -> str:
        return f"#/{self.page}"


# The console pages a playbook can send an operator to (their ids and nav titles, in each domain's console/).
PROMOTIONS = Link("promotions", {"zh": "营销中心", "en": "Marketing center"})
COUPONS = Link("promo-coupons", {"zh": "优惠券与礼包", "en": "Coupons & gift packs"})
FLASH = Link("promo-flash", {"zh": "限时秒杀", "en": "Flash sales"})
GROUPBUY = Link("promo-groupbuy", {"zh": "拼团", "en": "Group buys"})
BARGAIN = Link("promo-bargain", {"zh": "砍价", "en": "Bargains"})
REFERRAL = Link("promo-referral", {"zh": "邀请有礼", "en": "Referrals"})
CALENDAR = Link("marketing-calendar", {"zh": "营销日历", "en": "Marketing calendar"})
CHECKIN = Link("loyalty-checkin", {"zh": "签到奖励", "en": "Check-in rewards"})
TASKS = Link("loyalty-tasks", {"zh": "任务中心", "en": "Member tasks"})
BADGES = Link("loyalty-badges", {"zh": "勋章", "en": "Badges"})
PRODUCTS = Link("catalog", {"zh": "商品库", "en": "Product catalog"})
EXPERIMENTS = Link("experiments", {"zh": "实验", "en": "Experiments"})
FLAGS = Link("flags", {"zh": "功能开关", "en": "Flags"})
FUNNEL = Link("funnel", {"zh": "漏斗分析", "en": "Funnels"})
PATHS = Link("paths", {"zh": "路径分析", "en": "Paths"})


@dataclass(frozen=True)
class Playbook:
    id: str
    title: dict[str, str]
    what: dict[str, str]
    capability: str  # the huoli domain / page / endpoint that implements it (for developers, docs)
    available: bool = True  # False: the capability is planned, not built yet
    links: tuple[Link, ...] = ()  # console pages that act on it, most direct first
    instruction: dict[str, str] | None = None  # what to do where no console page acts on it yet

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["links"] = [{"page": k.page, "href": k.href, "label": k.label} for k in self.links]
        return d


CATALOG: dict[str, Playbook] = {
    p.id: p
    for p in [
        Playbook(
            "recall_campaign",
            {"zh": "召回沉睡用户", "en": "Recall campaign to dormant users"},
            {
                "zh": "向近期沉睡的用户发送订阅消息或发券召回，配合实验衡量增量。",
                "en": "Message recently dormant users (subscription messages or a coupon) and measure the lift "
                "with a holdout experiment.",
            },
            "messaging domain (planned, not built yet); meanwhile promotions coupons + experiments holdouts",
            available=False,
            instruction={
                "zh": "消息功能尚未上线：暂时可在「优惠券与礼包」页新建召回优惠券，并在「实验」页留出对照组衡量效果。",
                "en": "Messaging is not built yet: for now create a recall coupon on the Coupons & gift packs page "
                "and keep a holdout on the Experiments page to measure the lift.",
            },
        ),
        Playbook(
            "checkin_streaks",
            {"zh": "签到连续奖励", "en": "Check-in streaks"},
            {
                "zh": "开启每日签到与连续签到奖励，给用户每天回来的理由。",
                "en": "Turn on daily check-in with streak rewards so users have a reason to come back daily.",
            },
            "loyalty: check-in rules (PUT /admin/loyalty/rules, console #/loyalty-checkin)",
            links=(CHECKIN,),
        ),
        Playbook(
            "loyalty_tasks",
            {"zh": "积分任务与勋章", "en": "Points tasks and badges"},
            {
                "zh": "把评论、分享、收藏设为积分任务，奖励勋章，提升互动。",
                "en": "Make comment, share and favorite points tasks with badges to lift interaction.",
            },
            "loyalty: tasks and badges (/admin/loyalty/tasks, /admin/loyalty/badges)",
            links=(TASKS, BADGES),
        ),
        Playbook(
            "group_buying",
            {"zh": "拼团 / 砍价裂变", "en": "Group buying and bargains"},
            {
                "zh": "上线拼团或砍价活动，借社交分享拉新并提高分享回流。",
                "en": "Run a group-buy (拼团) or bargain (砍价) so sharing brings friends back in.",
            },
            "promotions: group buys and bargains (console #/promo-groupbuy, #/promo-bargain)",
            links=(GROUPBUY, BARGAIN),
        ),
        Playbook(
            "referral_rewards",
            {"zh": "邀请有礼", "en": "Referral rewards"},
            {
                "zh": "为邀请新用户设置奖励，提升新增。",
                "en": "Reward invitations that bring new users.",
            },
            "promotions: referrals (console #/promo-referral)",
            links=(REFERRAL,),
        ),
        Playbook(
            "coupon_redesign",
            {"zh": "优惠券重新设计", "en": "Coupon redesign"},
            {
                "zh": "检查门槛、面额与有效期；用实验比较方案，提高核销率。",
                "en": "Revisit threshold, value and validity; A/B test variants to raise redemption.",
            },
            "promotions: coupons + experiments (/admin/promotions/coupon-templates, /admin/experiments)",
            links=(COUPONS, EXPERIMENTS),
        ),
        Playbook(
            "promotion_calendar",
            {"zh": "活动日历", "en": "Promotion calendar"},
            {
                "zh": "安排秒杀、满减等固定节奏的活动，提升活动参与。",
                "en": "Schedule flash sales and other promotions on a steady rhythm to lift participation.",
            },
            "promotions: flash sales and coupons on the marketing calendar (console #/marketing-calendar)",
            links=(CALENDAR, FLASH),
        ),
        Playbook(
            "funnel_step_redesign",
            {"zh": "漏斗步骤改版", "en": "Funnel-step redesign"},
            {
                "zh": "针对流失过半的步骤改版（减少表单、默认选项、信任信息），用实验验证。",
                "en": "Redesign the step that loses most users (fewer fields, defaults, trust cues) and verify "
                "it with an experiment.",
            },
            "experiments on flags (/admin/experiments) + analytics funnel (console #/funnels)",
            links=(FUNNEL, EXPERIMENTS),
        ),
        Playbook(
            "shorten_path",
            {"zh": "缩短核心路径", "en": "Shorten the path to the core action"},
            {
                "zh": "减少到达核心行为所需的页面数：首页直达、一键下单。",
                "en": "Cut the pages needed to reach the core action: direct entry, one-tap ordering.",
            },
            "analytics paths (console #/paths) + experiments on flags",
            links=(PATHS, EXPERIMENTS),
        ),
        Playbook(
            "page_speed",
            {"zh": "页面提速", "en": "Page speed"},
            {
                "zh": "优化加载超过 3 秒的页面：分包、图片压缩、预加载。",
                "en": "Speed up pages loading over 3 s: subpackages, image compression, preloading.",
            },
            "analytics experience metric (POST /admin/analytics/experience) to find and verify pages",
            instruction={
                "zh": "控制台还没有页面性能页：请开发同事用分析接口的 experience 指标找出慢页面并验证优化效果。",
                "en": "The console has no page-speed page yet: ask a developer to find the slow pages with the "
                "analytics experience metric and verify the fix with it.",
            },
        ),
        Playbook(
            "fresh_content",
            {"zh": "上新与内容更新", "en": "Fresh content and new items"},
            {
                "zh": "定期上新或更新内容，并用功能开关灰度发布新玩法。",
                "en": "Add new items or content regularly; roll out new features with flags.",
            },
            "flags & remote config (/admin/flags) for new features; new items in the catalog (/admin/catalog/items)",
            links=(PRODUCTS, FLAGS),
        ),
        Playbook(
            "feedback_drive",
            {"zh": "用户反馈行动", "en": "Feedback drive"},
            {
                "zh": "回复每一条反馈，并主动邀请用户评价，形成闭环。",
                "en": "Answer every piece of feedback and invite reviews, closing the loop.",
            },
            "messaging domain (planned, not built yet); feedback events in the event log",
            available=False,
            instruction={
                "zh": "反馈回复功能尚未上线：请在小程序后台逐条回复用户反馈。",
                "en": "Replying to feedback is not built yet: answer each piece of feedback in the WeChat "
                "mini-program admin.",
            },
        ),
        Playbook(
            "onboarding",
            {"zh": "新人引导与新人礼", "en": "Onboarding and new-user gifts"},
            {
                "zh": "为新用户提供新人券、首日任务，提升次日留存。",
                "en": "Give new users a welcome coupon and day-one tasks to lift next-day retention.",
            },
            "promotions coupons and gift packs + loyalty tasks",
            links=(COUPONS, TASKS),
        ),
    ]
}

# Finding id (or id prefix ending in ".") → playbooks, most effective first.
FOR_FINDING: dict[str, list[str]] = {
    "activity.dau": ["recall_campaign", "checkin_streaks"],
    "activity.opens_per_user": ["checkin_streaks", "recall_campaign"],
    "activity.stay_per_open": ["fresh_content", "page_speed"],
    "activity.one_time_share": ["onboarding", "checkin_streaks"],
    "churn.pulse": ["recall_campaign", "referral_rewards", "group_buying"],
    "churn.new_users": ["referral_rewards", "group_buying"],
    "churn.dormant": ["recall_campaign", "checkin_streaks"],
    "churn.core_users": ["checkin_streaks", "loyalty_tasks", "recall_campaign"],
    "interaction.": ["loyalty_tasks", "group_buying"],
    "interaction.share_reflow": ["group_buying", "referral_rewards"],
    "conversion.promotion_participation": ["promotion_calendar", "group_buying"],
    "conversion.coupon_redemption": ["coupon_redesign"],
    "conversion.order_rate": ["funnel_step_redesign", "coupon_redesign"],
    "conversion.funnel_step": ["funnel_step_redesign"],
    "root_cause.staleness": ["fresh_content"],
    "root_cause.slow_pages": ["page_speed"],
    "root_cause.deep_path": ["shorten_path", "funnel_step_redesign"],
    "root_cause.silence": ["recall_campaign", "feedback_drive"],
    "root_cause.feedback_unanswered": ["feedback_drive"],
    "root_cause.next_day_retention": ["onboarding", "checkin_streaks"],
}


def for_finding(finding_id: str) -> list[str]:
    if finding_id in FOR_FINDING:
        return FOR_FINDING[finding_id]
    best = max((k for k in FOR_FINDING if finding_id.startswith(k)), key=len, default=None)
    return FOR_FINDING[best] if best else []

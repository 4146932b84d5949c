"""The weekly report as one self-contained HTML file (inline CSS and SVG, no script, nothing to load) and
as a Markdown summary. Chinese first (English beside the labels), or English only with lang="en"."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from huoli.diagnosis import service as diagnosis
from huoli.reports import charts
from huoli.reports.service import Kpi, WeeklyReport

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "title": {"zh": "周报", "en": "Weekly review"},
    "vs": {"zh": "对比上周", "en": "vs the week before"},
    "kpis": {"zh": "核心指标", "en": "KPIs"},
    "group.activity": {"zh": "活跃", "en": "Activity"},
    "group.retention": {"zh": "留存", "en": "Retention"},
    "group.conversion": {"zh": "转化与价值", "en": "Conversion and value"},
    "group.interaction": {"zh": "互动与分享", "en": "Interaction and sharing"},
    "metric": {"zh": "指标", "en": "Metric"},
    "this_week": {"zh": "本周", "en": "This week"},
    "last_week": {"zh": "上周", "en": "Last week"},
    "change": {"zh": "变化", "en": "Change"},
    "daily": {"zh": "每日活跃", "en": "Daily activity"},
    "dau": {"zh": "日活跃用户", "en": "Daily active users"},
    "new_users": {"zh": "每日新用户", "en": "New users per day"},
    "findings": {"zh": "诊断发现", "en": "Findings"},
    "no_findings": {"zh": "本周没有发现异常。", "en": "Nothing unusual found this week."},
    "findings_scope": {
        "zh": "诊断（huoli diagnose）运行了 {n} 项检查：{start} – {end} 对比基线 {b0} – {b1}。",
        "en": "The diagnosis (huoli diagnose) ran {n} checks: {start} – {end} against the baseline {b0} – {b1}.",
    },
    "current": {"zh": "当前", "en": "Current"},
    "baseline": {"zh": "基线", "en": "Baseline"},
    "severity": {"zh": "严重度", "en": "Severity"},
    "users_affected": {"zh": "影响用户", "en": "Users affected"},
    "playbooks": {"zh": "建议动作", "en": "Playbooks"},
    "movers": {"zh": "变化最大", "en": "Biggest movers"},
    "min_volume": {"zh": "最低量", "en": "minimum volume"},
    "no_movers": {"zh": "没有达到最低量的变化。", "en": "No change above the minimum volume."},
    "value": {"zh": "值", "en": "Value"},
    "experiments": {"zh": "实验", "en": "Experiments"},
    "no_experiments": {"zh": "本周没有进行中的实验。", "en": "No experiment was live this week."},
    "experiment": {"zh": "实验", "en": "Experiment"},
    "phase": {"zh": "本周状态", "en": "This week"},
    "users": {"zh": "用户", "en": "Users"},
    "verdict": {"zh": "结论", "en": "Verdict"},
    "phase.started": {"zh": "本周开始", "en": "started"},
    "phase.running": {"zh": "进行中", "en": "running"},
    "phase.stopped": {"zh": "本周结束", "en": "stopped"},
    "phase.started_stopped": {"zh": "本周开始并结束", "en": "started and stopped"},
    "srm": {"zh": "样本比例失衡", "en": "sample ratio mismatch"},
    "promotions": {"zh": "营销活动", "en": "Promotions"},
    "mechanic": {"zh": "玩法", "en": "Mechanic"},
    "participants": {"zh": "参与人数", "en": "Participants"},
    "events": {"zh": "事件", "en": "Events"},
    "campaigns": {"zh": "本周上线的活动", "en": "Campaigns live this week"},
    "no_campaigns": {"zh": "本周没有上线的活动。", "en": "No campaign was live this week."},
    "activities": {"zh": "本周活动效果", "en": "Activity results this week"},
    "activities_note": {
        "zh": "本周进行过的活动，按 GMV 排序；数据为活动至今的累计，对比为活动开始前等长时段的同类活动。",
        "en": "Activities live this week, by GMV; figures since each began, compared with the same kind over "
        "the equal period before.",
    },
    "no_activities": {"zh": "本周没有进行中的活动。", "en": "No activity was live this week."},
    "activities_more": {"zh": "另有 {n} 个活动未列出", "en": "{n} more not listed"},
    "activity": {"zh": "活动", "en": "Activity"},
    "state": {"zh": "状态", "en": "State"},
    "buyers": {"zh": "下单用户", "en": "Buyers"},
    "orders": {"zh": "订单", "en": "Orders"},
    "discounts": {"zh": "优惠", "en": "Discounts"},
    "new_users_shared": {"zh": "分享新客", "en": "New users via sharing"},
    "k_factor": {"zh": "K 因子", "en": "K factor"},
    "vs_before": {"zh": "GMV 对比前期", "en": "GMV vs before"},
    "kind.coupon-templates": {"zh": "优惠券", "en": "coupon"},
    "kind.gift-packs": {"zh": "礼包", "en": "gift pack"},
    "kind.flash-sessions": {"zh": "秒杀", "en": "flash sale"},
    "kind.group-campaigns": {"zh": "拼团", "en": "group buy"},
    "kind.bargain-campaigns": {"zh": "砍价", "en": "bargain"},
    "kind.referral-programs": {"zh": "邀请有礼", "en": "referral"},
    "state.scheduled": {"zh": "未开始", "en": "scheduled"},
    "state.running": {"zh": "进行中", "en": "running"},
    "state.paused": {"zh": "已暂停", "en": "paused"},
    "state.ended": {"zh": "已结束", "en": "ended"},
    "generated": {"zh": "生成于", "en": "Generated"},
    "timezone": {"zh": "时区", "en": "Time zone"},
    "weekdays": {"zh": "一,二,三,四,五,六,日", "en": "Mon,Tue,Wed,Thu,Fri,Sat,Sun"},
    "pp": {"zh": "个百分点", "en": "pp"},
    "share": {"zh": "占比", "en": "share"},
    "share_change": {"zh": "占比变化（百分点）", "en": "Share of total (pp)"},
}


class Texts:
    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str) -> str:
        return TEXT[key][self.lang]

    def both(self, label: dict[str, str]) -> Markup:
        """'中文 English' in zh (English as a quieter label), plain English in en."""
        if self.lang == "en":
            return Markup.escape(label["en"])
        return Markup('{} <span class="en">{}</span>').format(label["zh"], label["en"])

    def bi(self, key: str) -> Markup:
        return self.both(TEXT[key])

    def plain(self, label: dict[str, str]) -> str:
        return label[self.lang] if self.lang == "en" else f"{label['zh']} ({label['en']})"


def fmt_value(v: float | None, kind: str) -> str:
    if v is None:
        return "–"
    if kind == "rate":
        return f"{v:.1%}"
    if kind == "fen":
        return f"¥{v / 100:,.2f}"
    if kind == "ms":
        return f"{v / 1000:,.1f} s" if v >= 1000 else f"{v:,.0f} ms"
    if kind == "count":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def fmt_change(k: Kpi, lang: Lang) -> str:
    if k.change is None:
        return "–"
    if k.kind == "rate":
        return f"{k.change * 100:+.1f} {TEXT['pp'][lang]}"
    if k.change_pct is not None:
        return f"{k.change_pct:+.1%}"
    return f"{k.change:+,.2f}" if k.kind == "number" else fmt_value(k.change, k.kind)


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("huoli.reports", "templates"),
        # HTML: every data string (page names, campaign names, verdicts) is escaped. Markdown: `cell` escapes.
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("md.j2",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["value"] = fmt_value
    env.filters["vs"] = fmt_vs
    return env


def fmt_vs(now: int, before: int) -> str:
    """An activity's figure against the period before it: relative when there was one, else the new amount."""
    if not before:
        return "–" if not now else f"+{fmt_value(now, 'fen')}"
    return f"{(now - before) / before:+.1%}"


def _charts(report: WeeklyReport, t: Texts) -> dict[str, Any]:
    days = t("weekdays").split(",")
    cur = [d for d in report.daily if d["week"] == "current"]
    prev = [d for d in report.daily if d["week"] == "previous"]
    wk_c, wk_p = f"{t('this_week')} {report.week.label}", f"{t('last_week')} {report.previous_week.label}"
    out: dict[str, Any] = {
        "dau": charts.lines(
            t("dau"),
            days,
            [
                charts.Series(wk_p, [d["dau"] for d in prev], "prev"),
                charts.Series(wk_c, [d["dau"] for d in cur], "cur"),
            ],
        ),
        "new_users": charts.bars(
            t("new_users"),
            days,
            [
                charts.Series(wk_p, [d["new_users"] for d in prev], "prev"),
                charts.Series(wk_c, [d["new_users"] for d in cur], "cur"),
            ],
        ),
        "movers": {},
    }
    for g in report.movers:
        if g.rows:
            rows = [
                (
                    m.label,
                    float(m.change),
                    f"{m.change:+,} ({m.previous:,} → {m.current:,})"
                    + (f" · {t('share')} {m.share_change * 100:+.1f}" if m.share_change is not None else ""),
                )
                for m in g.rows
            ]
            out["movers"][g.key] = charts.diverging(t.plain(g.label), rows)
    mech = report.promotions["mechanics"]
    if any(m["users"] or m["previous_users"] for m in mech):
        out["promotions"] = charts.bars(
            t("participants"),
            [m["label"][t.lang] for m in mech],
            [
                charts.Series(wk_p, [m["previous_users"] for m in mech], "prev"),
                charts.Series(wk_c, [m["users"] for m in mech], "cur"),
            ],
        )
    return out


def _groups(report: WeeklyReport) -> list[tuple[str, list[Kpi]]]:
    order = ["activity", "retention", "conversion", "interaction"]
    return [(g, [k for k in report.kpis if k.group == g]) for g in order]


def _num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"


def _is_rate(metric: str) -> bool:
    # The doctor names each finding's metric (e.g. "conversion.order_rate"); these are fractions.
    return any(k in metric for k in ("rate", "conversion_from", "share"))


def findings_rows(report: WeeklyReport, lang: Lang) -> list[dict[str, Any]]:
    """The doctor's findings (in its order: most severe first) with their numbers as display text: severity
    in words, rates as percentages (the finding's unit says which values are rates)."""
    if not report.findings:
        return []
    t = Texts(lang)
    rows = []
    for f in report.findings.get("findings", []):
        change = f.get("change")
        metric = str(f.get("metric", ""))
        if "unit" in f:
            shown = diagnosis.finding_text(f, lang)
            current, baseline = shown["current"], shown["baseline"]
        else:  # a diagnosis stored before findings carried their unit
            fmt = (lambda v: fmt_value(v, "rate")) if _is_rate(metric) else _num
            current, baseline = fmt(f.get("current")), fmt(f.get("baseline"))
        rows.append(
            {
                "id": f["id"],
                "severity": f["severity"],
                "severity_label": diagnosis.severity_label(f["severity"], lang),
                "title": f["title"],
                "metric": metric,
                "current": current,
                "baseline": baseline,
                "change": f"{change:+.1%}" if isinstance(change, int | float) else "–",
                "users_affected": _num(f.get("users_affected")),
                "playbooks": [t.plain(p) for p in f.get("playbook_titles", [])],
            }
        )
    return rows


def findings_empty(report: WeeklyReport, lang: Lang) -> str:
    """What the findings section says without findings: nothing unusual, or not enough data to tell."""
    data = (report.findings or {}).get("data") or {}
    if not data.get("enough", True):
        return diagnosis.verdict_text(report.findings, lang)
    return TEXT["no_findings"][lang]


def html(report: WeeklyReport, lang: Lang = "zh") -> str:
    t = Texts(lang)
    return (
        _env()
        .get_template("weekly.html.j2")
        .render(
            r=report,
            findings=findings_rows(report, lang),
            findings_empty=findings_empty(report, lang),
            t=t,
            lang=lang,
            groups=_groups(report),
            charts=_charts(report, t),
            change=lambda k: fmt_change(k, lang),
        )
    )


def _md_cell(v: Any) -> str:
    # Table cells: a pipe or newline in data would break the table; backslash-escape Markdown's specials.
    s = str(v).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "*_`[]<>":
        s = s.replace(ch, "\\" + ch)
    return s


def markdown(report: WeeklyReport, lang: Lang = "zh") -> str:
    t = Texts(lang)
    return (
        _env()
        .get_template("weekly.md.j2")
        .render(
            r=report,
            t=t,
            lang=lang,
            groups=_groups(report),
            findings=findings_rows(report, lang),
            findings_empty=findings_empty(report, lang),
            change=lambda k: fmt_change(k, lang),
            cell=_md_cell,
        )
    )


def write(report: WeeklyReport, directory: Path, lang: Lang = "zh") -> tuple[Path, Path]:
    """report-<week>.html and report-<week>.md in `directory` (created if missing); returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"report-{report.week.label}"
    html_path, md_path = directory / f"{stem}.html", directory / f"{stem}.md"
    html_path.write_text(html(report, lang), encoding="utf-8")
    md_path.write_text(markdown(report, lang), encoding="utf-8")
    return html_path, md_path

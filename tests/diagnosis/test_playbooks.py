"""Every playbook either links to a console page that exists (by its route id and with a zh/en label) or,
where no page acts on it yet, gives a plain instruction — never a raw API path shown as a link."""

from __future__ import annotations

import re
from pathlib import Path

from huoli.diagnosis import playbooks

SRC = Path(__file__).resolve().parents[2] / "src" / "huoli"


def _console_pages() -> dict[str, str]:
    """Console page ids (the `#/<id>` routes) → the page's entry in its domain's console/index.js (the registry
    the console is built from: id, title {zh, en}, group)."""
    pages = {}
    for index in SRC.glob("*/console/index.js"):
        for entry in re.findall(r"^\s*\{ id: .*$", index.read_text(), re.M):
            m = re.match(r'\s*\{ id: "([a-z0-9_-]+)"', entry)
            if m:
                pages[m.group(1)] = entry
    return pages


def test_playbook_links_are_console_pages_with_their_nav_titles() -> None:
    pages = _console_pages()
    assert {"promotions", "promo-coupons", "loyalty-checkin", "experiments", "diagnosis"} <= set(pages)
    for p in playbooks.CATALOG.values():
        d = p.to_dict()
        assert bool(d["links"]) != bool(d["instruction"]), p.id  # a link, or an instruction where none exists
        for link in d["links"]:
            assert link["page"] in pages, (p.id, link)
            assert link["href"] == f"#/{link['page']}"
            # the label is the page's own title, as the nav shows it
            js = pages[link["page"]]
            assert link["label"]["zh"] in js and link["label"]["en"] in js, (p.id, link)
        if d["instruction"]:
            assert d["instruction"]["zh"] and d["instruction"]["en"]
            assert "/admin/" not in d["instruction"]["zh"] + d["instruction"]["en"]
    books = playbooks.CATALOG
    assert [k.page for k in books["coupon_redesign"].links] == ["promo-coupons", "experiments"]
    assert [k.page for k in books["checkin_streaks"].links] == ["loyalty-checkin"]
    # the mechanics that once had only an instruction now have their pages
    assert [k.page for k in books["group_buying"].links] == ["promo-groupbuy", "promo-bargain"]
    assert [k.page for k in books["referral_rewards"].links] == ["promo-referral"]
    assert not books["recall_campaign"].links and books["recall_campaign"].instruction

"""Issue 24's rules for promotions and orders, read from the source: routes never open a unit of work or pass
the runtime's settings on (they take a Work from a dependency, or hand deps.in_work / in_signed_work to
run_hot), and only a domain's flows.py, jobs.py and cli.py open units."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "huoli"
ROUTES = [
    SRC / "promotions" / "routes.py",
    *sorted((SRC / "promotions" / "api").glob("*.py")),
    SRC / "orders" / "routes.py",
]
# What opens a unit of work (or a session outside one) or passes the runtime's settings on.
IN_ROUTES = re.compile(r"\b(unit_of_work|read_only|open_work|single_statement)\(|runtime\.settings\b")
OPENS_UNIT = re.compile(r"\b(unit_of_work|read_only|open_work|single_statement|work_in)\(|\.sessions\(")
MAY_OPEN = {"flows.py", "jobs.py", "cli.py"}


def offences(path: Path, pattern: re.Pattern[str]) -> list[str]:
    lines = path.read_text().splitlines()
    return [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for n, line in enumerate(lines, 1)
        if pattern.search(line)
    ]


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: str(p.relative_to(SRC)))
def test_routes_open_no_unit_and_pass_no_settings(path: Path) -> None:
    assert offences(path, IN_ROUTES) == []


def test_only_flows_jobs_and_cli_open_units() -> None:
    modules = [
        p for p in sorted((SRC / "promotions").rglob("*.py")) if p.name not in MAY_OPEN and p not in ROUTES
    ]
    assert len(modules) > 10  # the services are found where they are
    found = [o for p in modules for o in offences(p, OPENS_UNIT)]
    assert found == []


@pytest.mark.parametrize(
    ("line", "offends"),
    [
        ("    with unit_of_work(runtime.sessions, app_id=app.id) as db:", True),
        ("    with read_only(runtime.sessions) as db:", True),
        ("    with open_work(runtime, app, Caller('user', uid)) as work:", True),
        ("        settings=runtime.settings,", True),
        ("    return _json(await run_hot(runtime, in_work, runtime, app, caller, _lock, uid, body))", False),
        ("    gate = flashsale.gate_for(work.settings.redis_url)", False),
    ],
)
def test_the_route_check_tells_a_unit_opened_from_one_handed_over(line: str, offends: bool) -> None:
    assert (IN_ROUTES.search(line) is not None) is offends

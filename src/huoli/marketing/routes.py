"""Operator calls under /admin/marketing: the calendar, festival templates and applying a plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from huoli.apps.schemas import Role
from huoli.deps import OperatorWorkDep, role_at_least
from huoli.marketing import service
from huoli.marketing.festivals import FIRST_YEAR, LAST_YEAR
from huoli.marketing.schemas import ApplyIn, ApplyOut, CalendarOut, FestivalsOut

router = APIRouter(tags=["marketing"])
READ = [role_at_least(Role.analyst)]
WRITE = [role_at_least(Role.operator)]


@router.get("/admin/marketing/calendar", response_model=CalendarOut, dependencies=READ)
def marketing_calendar(
    work: OperatorWorkDep,
    start: Annotated[str | None, Query(description="first local day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, Query(description="last local day, YYYY-MM-DD (≤ 92 days)")] = None,
) -> CalendarOut:
    """Every promotions and loyalty activity overlapping the range, member and festival days, and warnings."""
    first, last = service.parse_range(start, end)
    return CalendarOut.model_validate(service.calendar(work, first, last))


@router.get("/admin/marketing/festivals", response_model=FestivalsOut, dependencies=READ)
def marketing_festivals(
    work: OperatorWorkDep, year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None
) -> FestivalsOut:
    """The year's festival templates (dates from the holidays package) and rhythm templates, with plans."""
    y = year or work.today.year
    return FestivalsOut.model_validate({"year": y, "festivals": service.festival_templates(work, y)})


@router.post("/admin/marketing/plans/apply", response_model=ApplyOut, status_code=201, dependencies=WRITE)
def marketing_apply_plan(body: ApplyIn, work: OperatorWorkDep) -> ApplyOut:
    """Create a plan's drafts in one unit of work: all, or none with the draft index and field at fault."""
    created = service.apply_plan(work, [d.model_dump() for d in body.drafts])
    return ApplyOut.model_validate({"festival": body.festival, "year": body.year, "created": created})

"""API shapes for the marketing calendar and festival plans. Money in drafts is integer fen, instants carry
an offset, days are ISO local days in the app's timezone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from huoli.marketing.festivals import FIRST_YEAR, LAST_YEAR


class Link(BaseModel):
    page: str  # the console page id that shows the activity
    params: dict[str, str]


class CalendarEntry(BaseModel):
    kind: str
    id: str
    name: str
    state: str
    starts_at: datetime | None
    ends_at: datetime | None
    item_ids: list[str]
    figures: dict[str, Any] | None = None
    link: Link


class ActivityRef(BaseModel):
    kind: str
    id: str
    name: str


class Warning(BaseModel):
    code: str  # same_item_discounts | same_threshold_coupons | flash_during_member_day | ends_on_festival
    activities: list[ActivityRef]
    days: list[str]
    params: dict[str, Any]


class FestivalDays(BaseModel):
    key: str
    name: dict[str, str]
    kind: str
    day: str
    start: str
    end: str
    days: list[str]


class CalendarOut(BaseModel):
    start: str
    end: str
    timezone: str
    entries: list[CalendarEntry]  # bounded by the range (≤ 92 days)
    member_days: list[str]
    festivals: list[FestivalDays]
    warnings: list[Warning]


class Draft(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: str = Field(max_length=40)
    key: str = Field("", max_length=80)
    title: str | None = Field(None, max_length=200)
    body: dict[str, Any]


class Festival(FestivalDays):
    plan: list[Draft]


class FestivalsOut(BaseModel):
    year: int
    festivals: list[Festival]  # a fixed set per year


class ApplyIn(BaseModel):
    festival: str = Field(min_length=1, max_length=40)
    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    drafts: list[Draft] = Field(min_length=1, max_length=50)


class CreatedDraft(BaseModel):
    index: int
    kind: str
    ids: list[str]


class ApplyOut(BaseModel):
    festival: str
    year: int
    created: list[CreatedDraft]

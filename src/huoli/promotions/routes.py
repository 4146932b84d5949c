"""HTTP for promotions, one router per kind of caller (promotions/api/): mini-program calls under
/v1/promotions, merchant-backend calls (HMAC-signed) under /v1/server/promotions and WeChat Pay's refund
notifications, operators under /admin/promotions. Rules live in the service modules."""

from __future__ import annotations

from fastapi import APIRouter

from huoli.promotions.api import admin, miniprogram, server

router = APIRouter()
# The routes themselves, not include_router: app.py dispatches over each domain's routes directly (an included
# router would be matched as one opaque entry, after every /v1 route).
for part in (miniprogram.router, server.router, admin.router):
    router.routes.extend(part.routes)

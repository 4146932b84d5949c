"""Imports every domain's tables so metadata (Alembic, tests) sees the whole schema."""

from huoli.apps.models import ApiKey, App
from huoli.auth.models import ServerNonce
from huoli.db import Base
from huoli.events.models import OutboxEvent
from huoli.users.models import User, WxSessionKey

__all__ = ["ApiKey", "App", "Base", "OutboxEvent", "ServerNonce", "User", "WxSessionKey"]

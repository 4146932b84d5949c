"""Imports every domain's tables so metadata (Alembic, tests) sees the whole schema."""

from huoli.db import Base
from huoli.domains import domain_modules

MODEL_MODULES = list(domain_modules("models"))

__all__ = ["MODEL_MODULES", "Base"]

"""The availability hooks are found like privacy.py: every domain's catalog_hooks.py, and no other module."""

from __future__ import annotations

from pathlib import Path

import huoli
from huoli.catalog import service

SRC = Path(huoli.__file__).parent


def test_the_hooks_are_every_domains_catalog_hooks_module() -> None:
    on_disk = sorted(p.parent.name for p in SRC.glob("*/catalog_hooks.py"))
    found = service.hook_modules()
    assert [domain for domain, _ in found] == on_disk
    for domain, module in found:
        assert module.__name__ == f"huoli.{domain}.catalog_hooks"
        # each implements at least one hook of the contract (docs/catalog.md)
        assert {"items_unavailable", "items_available", "references"} & set(vars(module)), domain

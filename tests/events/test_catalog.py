"""docs/events.md documents every catalog event, with the properties the validator requires."""

from __future__ import annotations

from pathlib import Path

from huoli.events.catalog import CATALOG

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_catalog_event_is_documented_with_its_required_properties() -> None:
    text = DOC.read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line for line in text.splitlines() if line.startswith("| `")
    }
    for name, spec in CATALOG.items():
        assert name in rows, f"{name} missing from docs/events.md"
        for prop in spec.required:
            assert f"`{prop}`" in rows[name], f"{name}: required property {prop} not documented"
        if spec.server_only:
            assert "server only" in rows[name], f"{name} is server-only but the doc row does not say so"

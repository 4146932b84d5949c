"""Every operator write the API has is named on the audit page, in Chinese and English: an entry for a route
nobody named shows its raw path to the operator, which is how new routes slipped through before."""

from __future__ import annotations

import json
import re
from pathlib import Path

from huoli.app import create_app
from huoli.settings import Settings

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "huoli" / "audit" / "console"


def test_every_admin_write_route_has_an_audit_name_in_both_languages(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    writes = {
        f"{method} {route.path}"
        for route in app.routes
        for method in (getattr(route, "methods", None) or ())
        if method not in {"GET", "HEAD"} and getattr(route, "path", "").startswith("/admin/")
    }
    assert len(writes) > 50  # the app's routes were found, so an empty set cannot pass
    listed = set(re.findall(r'^  "([^"]+)",?$', (CONSOLE / "actions.js").read_text(), flags=re.M))
    assert sorted(writes - listed) == []
    names = json.loads((CONSOLE / "i18n.json").read_text())
    for lang in ("zh", "en"):
        unnamed = sorted(c for c in listed if f"audit.action.{c}" not in names[lang])
        assert unnamed == [], lang

"""Finds console files on disk: the shell's own assets, each domain's page modules, installed vendor code.

Every lookup takes a name from the URL, so each one checks the name's shape and that the resolved file
stays inside its folder; anything else is "not found" (never a hint about what exists elsewhere).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import huoli
from huoli.domains import domain_names
from huoli.settings import Settings

PACKAGE_DIR = Path(huoli.__file__).resolve().parent
STATIC_DIR = Path(__file__).resolve().parent / "static"
# console/package.json sits at the repository root, beside src/; `make install` runs `npm ci` there.
DEFAULT_NODE_MODULES = PACKAGE_DIR.parents[1] / "console" / "node_modules"
PAGES_FOLDER = "console"

# package → (folder inside node_modules, the ES module the shell imports)
VENDOR = {"echarts": ("echarts/dist", "echarts.esm.min.mjs")}

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
STATIC_TYPES = {".html", ".js", ".css", ".svg", ".png", ".json"}
PAGE_TYPES = {".js", ".json", ".css", ".svg", ".png"}
VENDOR_TYPES = {".js", ".mjs", ".map"}
# One path segment: letters, digits, _ . - and not starting with a dot (so no "..", no hidden files).
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
_PAGE_MODULE = re.compile(r"^[A-Za-z0-9_-]+\.js$")


def content_type(path: Path) -> str:
    return CONTENT_TYPES[path.suffix]


def _safe(base: Path, name: str, suffixes: set[str]) -> Path | None:
    parts = name.split("/")
    if not name or len(parts) > 8 or not all(_SEGMENT.match(p) for p in parts):
        return None
    if Path(name).suffix not in suffixes:
        return None
    root = base.resolve()
    path = (root / name).resolve()
    # resolve() follows symlinks: a link pointing outside the folder is refused like "..".
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def static_file(name: str) -> Path | None:
    return _safe(STATIC_DIR, name, STATIC_TYPES)


def page_file(domain: str, name: str) -> Path | None:
    if domain not in domain_names():
        return None
    return _safe(PACKAGE_DIR / domain / PAGES_FOLDER, name, PAGE_TYPES)


def vendor_root(settings: Settings) -> Path:
    return settings.console_node_modules or DEFAULT_NODE_MODULES


def vendor_file(node_modules: Path, package: str, name: str) -> Path | None:
    if package not in VENDOR:
        return None
    folder, _ = VENDOR[package]
    return _safe(node_modules / folder, name, VENDOR_TYPES)


def manifest(
    node_modules: Path, *, package_dir: Path = PACKAGE_DIR, domains: list[str] | None = None
) -> dict[str, Any]:
    """What GET /console/pages.json returns: every domain's page modules, i18n files and vendor modules.

    A page is any top-level ``*.js`` in ``src/huoli/<domain>/console/``; order within the nav comes from
    the module itself (``group``, ``order``), so the list here is only sorted for determinism.
    """
    pages: list[dict[str, str]] = []
    i18n: dict[str, str] = {}
    for domain in domain_names() if domains is None else domains:
        folder = package_dir / domain / PAGES_FOLDER
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and _PAGE_MODULE.match(path.name):
                pages.append({"domain": domain, "module": f"/console/pages/{domain}/{path.name}"})
        if (folder / "i18n.json").is_file():
            i18n[domain] = f"/console/pages/{domain}/i18n.json"
    vendor: dict[str, str | None] = {}
    for package, (sub, entry) in VENDOR.items():
        present = (node_modules / sub / entry).is_file()
        vendor[package] = f"/console/vendor/{package}/{entry}" if present else None
    return {"pages": pages, "i18n": i18n, "vendor": vendor}

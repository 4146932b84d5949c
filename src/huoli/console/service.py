"""Finds the built console on disk: Vite's output (console/dist: index.html and hashed assets) and the icon.

The console's source is Vue 3 + Element Plus: the shell in console/src, each domain's pages in
src/huoli/<domain>/console/; `make install` builds them into console/dist (docs/console.md). Every lookup
takes a name from the URL, so each checks the name's shape and that the resolved file stays inside its
folder; anything else is "not found" (never a hint about what exists elsewhere).
"""

from __future__ import annotations

import re
from pathlib import Path

import huoli
from huoli.settings import Settings

PACKAGE_DIR = Path(huoli.__file__).resolve().parent
STATIC_DIR = Path(__file__).resolve().parent / "static"
# console/ sits at the repository root, beside src/; `make install` runs `npm ci` and `vite build` there.
DEFAULT_DIST = PACKAGE_DIR.parents[1] / "console" / "dist"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
}
ASSET_TYPES = {".js", ".css", ".svg", ".png", ".woff", ".woff2", ".ttf"}
STATIC_TYPES = {".svg", ".png"}
# One path segment: letters, digits, _ . - and not starting with a dot (so no "..", no hidden files).
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")


def content_type(path: Path) -> str:
    return CONTENT_TYPES[path.suffix]


def _safe(base: Path, name: str, suffixes: set[str]) -> Path | None:
    parts = name.split("/")
    if not name or len(parts) > 4 or not all(_SEGMENT.match(p) for p in parts):
        return None
    if Path(name).suffix not in suffixes:
        return None
    root = base.resolve()
    path = (root / name).resolve()
    # resolve() follows symlinks: a link pointing outside the folder is refused like "..".
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def dist_root(settings: Settings) -> Path:
    return settings.console_dist or DEFAULT_DIST


def index_file(dist: Path) -> Path | None:
    path = dist / "index.html"
    return path if path.is_file() else None


def asset_file(dist: Path, name: str) -> Path | None:
    return _safe(dist / "assets", name, ASSET_TYPES)


def static_file(name: str) -> Path | None:
    return _safe(STATIC_DIR, name, STATIC_TYPES)


NOT_BUILT = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>huoli console</title></head>
<body><h1>控制台尚未构建 · The console is not built</h1>
<p>在项目目录运行 <code>make install</code>（需要 Node.js 和 npm 仓库）。Run <code>make install</code> in the
project (needs Node.js and the npm registry): it builds the console into console/dist.</p></body></html>
"""

"""The shell's date-range math (console/src/lib/range.js) under node's test runner: offsets, DST, presets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_range_module() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required (the SDK tests need it too)")
    r = subprocess.run(
        [node, "--test", str(HERE / "js" / "range.test.mjs")], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# pass 5" in r.stdout and "# fail 0" in r.stdout, r.stdout

"""Fixtures for the WeChat client tests: the fake WeChat server from ``tests/fakes``."""

import sys
from pathlib import Path

# ``tests.fakes`` is imported as a package from the project root; ``python -m pytest`` puts the
# root on sys.path, a bare ``pytest`` run does not.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fakes.wechat_server import fake_wechat, fake_wechat_server  # noqa: E402

__all__ = ["fake_wechat", "fake_wechat_server"]

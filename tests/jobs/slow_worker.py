"""`huoli worker` whose loyalty expiry pauses after its writes and before its commit, so a test can SIGKILL it
at the worst moment. Run as `python tests/jobs/slow_worker.py MARKER_FILE`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from huoli.loyalty import ledger

marker = Path(sys.argv[1])
original = ledger.expire_due


def expire_then_hang(db: Any, ctx: Any) -> int:
    n = original(db, ctx)
    db.flush()  # the expiry's rows are written in the open transaction
    marker.write_text(str(n))
    time.sleep(600)
    return n


ledger.expire_due = expire_then_hang  # type: ignore[assignment]

if __name__ == "__main__":
    from huoli.cli import app

    app(["worker"])

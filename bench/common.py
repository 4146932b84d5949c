"""Shared by every bench script: the machine line and writing one section of docs/benchmarks.md.

Each domain's bench is `bench/<domain>.py`, runnable alone (`python bench/<domain>.py --no-write`); it owns
the text between `<!-- bench:<domain>:begin -->` and `<!-- bench:<domain>:end -->` in docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    mem_gib = int(mem.group(1)) / 1024 / 1024 if mem else 0.0
    return (
        f"{os.cpu_count()} vCPU ({cpu}), {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def markdown_table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def write_section(key: str, title: str, command: str, body: list[str], *, write: bool = True) -> str:
    """Print and (unless write=False) replace this key's section of docs/benchmarks.md."""
    begin, end = f"<!-- bench:{key}:begin -->", f"<!-- bench:{key}:end -->"
    section = "\n".join(
        [
            begin,
            f"## {title}",
            "",
            f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} with `{command}` on {machine()}.",
            "",
            *body,
            end,
        ]
    )
    print(section)
    if write:
        text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
        if begin in text and end in text:
            text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        DOC.write_text(text)
    return section


@contextmanager
def client_gc_paused() -> Iterator[None]:
    """While a load runs, the load generator (Python too) collects no garbage: a full pass over its latency
    lists and prebuilt requests stalls every send and would count as server latency (measured: an 80 ms spike
    about 5 s into every loyalty run). A C load generator such as wrk has no such pause."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live descendants (`serve --workers` spawns processes; PostgreSQL a
    backend per connection), plus what each had reaped of children that exited (cutime + cstime): the
    server's own CPU, whatever else loads the machine."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue  # exited while we looked
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        todo += children.get(p, [])
    return total / os.sysconf("SC_CLK_TCK")


def settle(pid: int, *, timeout: float = 60.0) -> None:
    """Wait until the idle server stops using CPU (start-up warm-ups run on background threads), so the
    first phase measures requests, not start-up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.02:
            return


def postgres_pid() -> int | None:
    """The local PostgreSQL postmaster (its backends are its children), if one runs on this machine."""
    comms: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                comms[int(entry.name)] = (comm, int(_stat(int(entry.name))[1]))
            except (OSError, IndexError):
                continue
    for pid, (comm, ppid) in comms.items():
        if comm == "postgres" and comms.get(ppid, ("", 0))[0] != "postgres":
            return pid
    return None


class CpuBudget:
    """CPU per request of each party on this machine: the server's process tree, PostgreSQL (postmaster and
    backends) and this load generator. Their sum bounds what the machine can serve: cores / sum."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.pg_pid = postgres_pid()

    def snapshot(self) -> tuple[float, float, float]:
        own = os.times()
        pg = cpu_seconds(self.pg_pid) if self.pg_pid else 0.0
        return cpu_seconds(self.server_pid), pg, own.user + own.system

    def per_request(self, before: tuple[float, float, float], requests: int) -> dict[str, float]:
        after = self.snapshot()
        n = max(1, requests)
        server, pg, client = ((a - b) * 1000 / n for a, b in zip(after, before, strict=True))
        total = server + pg + client
        return {
            "server_ms": server,
            "pg_ms": pg,
            "client_ms": client,
            "ceiling_rps": (os.cpu_count() or 1) * 1000 / total if total else 0.0,
        }

    @staticmethod
    def describe(b: dict[str, float]) -> str:
        return (
            f"CPU-ms/request: server {b['server_ms']:.2f}, PostgreSQL {b['pg_ms']:.2f}, load client "
            f"{b['client_ms']:.2f} → this machine's ceiling ≈ {b['ceiling_rps']:,.0f}/s"
        )

"""The ingestion journal: acknowledged events are fsync'd here first, then loaded into the event store in bulk.

DuckDB spends ~6 ms of CPU on any INSERT, however small, so committing each request's events there caps
throughput and inflates latency. Appending a framed Arrow IPC record to a file and fsyncing it costs far less;
the writer loads what accumulated into DuckDB a few times a second in one statement, recording in the same
transaction how far into the journal it got. After a crash, everything past that point is replayed.

Record framing: 4-byte little-endian payload length, 4-byte CRC32 of the payload, payload (an Arrow IPC stream
holding one table). A torn tail (a write the kill interrupted, never acknowledged) fails the length or CRC
check; replay stops there and the tail is cut off.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from huoli.fileperms import mkdir_private, open_private_append

_HEADER = struct.Struct("<II")
_SUFFIX = ".journal"
Position = tuple[int, int]  # (segment number, byte offset after the last record)


def _encode(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue().to_pybytes()
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class Journal:
    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        mkdir_private(directory)
        self._segment = 0
        self._file: BinaryIO | None = None
        self._hold_lock = threading.Lock()
        self._holds = 0
        self._deferred_drop = 0  # the highest drop_before asked for while held, done on release

    def start_appending(self, *, after: int = 0) -> None:
        """Open a fresh segment for new records (after `replay` has recovered and cut the old ones), numbered
        past `after` — the store's loaded segment: numbering from 1 again after the old files were cut let the
        store's position name a new segment, and replay skipped what was acknowledged before the first load."""
        existing = self.segments()
        self._segment = max(existing[-1] if existing else 0, after) + 1
        # 0600: the journal holds acknowledged events; kept open for the process lifetime
        self._file = os.fdopen(open_private_append(self._path(self._segment)), "ab")
        self._sync_directory()

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SUFFIX}"

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def segments(self) -> list[int]:
        return sorted(int(p.name.removesuffix(_SUFFIX)) for p in self.directory.glob(f"*{_SUFFIX}"))

    @property
    def position(self) -> Position:
        assert self._file is not None, "start_appending() first"
        return self._segment, self._file.tell()

    def append(self, table: pa.Table) -> Position:
        """Write and fsync one record; when this returns, the record survives a crash."""
        assert self._file is not None, "start_appending() first"
        start = self._file.tell()
        try:
            self._file.write(_encode(table))
            self._file.flush()
            os.fsync(self._file.fileno())
        except BaseException:
            # A half-written record (disk full, I/O error) would end replay early and hide later records:
            # cut it off so the next append starts on a clean boundary. The caller acknowledges nothing.
            self._file.truncate(start)
            self._file.seek(start)
            raise
        return self.position

    def replay(self, start: Position) -> Iterator[tuple[pa.Table, Position]]:
        """Records after `start`, each with the position just past it. Cuts off a torn tail."""
        first_segment, first_offset = start
        for segment in self.segments():
            if segment < first_segment:
                continue
            offset = first_offset if segment == first_segment else 0
            path = self._path(segment)
            with open(path, "rb") as fh:
                fh.seek(offset)
                while True:
                    header = fh.read(_HEADER.size)
                    if len(header) < _HEADER.size:
                        good = offset
                        break
                    length, crc = _HEADER.unpack(header)
                    payload = fh.read(length)
                    if len(payload) < length or zlib.crc32(payload) != crc:
                        good = offset
                        break
                    offset += _HEADER.size + length
                    with pa.ipc.open_stream(payload) as reader:
                        yield reader.read_all(), (segment, offset)
            if path.stat().st_size > good:
                with open(path, "r+b") as fh:
                    fh.truncate(good)
                    os.fsync(fh.fileno())

    def roll_if_full(self) -> None:
        if self._file is None or self._file.tell() < self.segment_bytes:
            return
        self._file.close()
        self.start_appending()

    def drop_before(self, segment: int) -> None:
        """Delete segments whose records are all loaded into the store (later, while a backup holds them)."""
        with self._hold_lock:
            if self._holds:
                self._deferred_drop = max(self._deferred_drop, segment)
                return
            self._drop(segment)

    def _drop(self, segment: int) -> None:
        for old in self.segments():
            if old < segment:
                self._path(old).unlink(missing_ok=True)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep every segment on disk meanwhile: an online backup copies the segments past the position its
        store snapshot read, which the loader would otherwise delete once it loads past them."""
        with self._hold_lock:
            self._holds += 1
        try:
            yield
        finally:
            with self._hold_lock:
                self._holds -= 1
                if not self._holds and self._deferred_drop:
                    self._drop(self._deferred_drop)
                    self._deferred_drop = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

"""A small ClickHouse HTTP server on 127.0.0.1 for tests: the HTTP interface, with chdb executing every statement.

There is no ClickHouse server on the test machine, so this speaks the subset of the documented HTTP interface
(https://clickhouse.com/docs/interfaces/http) that clickhouse-connect uses, and hands each statement to chdb —
the real ClickHouse engine, in-process, over one Session whose tables persist on disk across requests. It
never computes a result itself.

* ``GET|POST /?query=…`` and/or a POST body: the statement is the ``query`` parameter, a newline, then the body
  (ClickHouse's rule). ``INSERT INTO t [(cols)] FORMAT F`` followed by data: the data (Arrow, Native, …) is
  spooled to a file and loaded with ``INSERT INTO t [(cols)] SELECT … FROM file(path, F)``, ClickHouse's own
  input format parser.
* ``database``: the statement runs after ``USE database`` (``default`` when absent). ``default_format`` is the
  output format unless the statement names one (TabSeparated otherwise, as ClickHouse). ``param_<name>``:
  server-side ``{name:Type}`` parameters. Every other parameter that is not a transport one (``query_id``,
  ``session_id``, ``compress``, ``client_protocol_version``, …) is a setting: applied with ``SET`` for the
  request and reset to ``DEFAULT`` after it.
* GET is read-only (ClickHouse runs GET with readonly=1): anything but SELECT/SHOW/DESCRIBE/EXISTS/WITH is
  refused with code 164 READONLY.
* Request bodies may be gzip/deflate (``Content-Encoding``); responses are never compressed (the huoli
  client disables compression; a client that insists gets uncompressed bytes, which HTTP allows).
* Users: Basic auth, ``X-ClickHouse-User``/``-Key`` headers or ``user``/``password`` parameters must match
  ``user``/``password``; otherwise 403 with code 516 AUTHENTICATION_FAILED.
* Errors: the HTTP status ClickHouse uses for the code (400 syntax/bad arguments, 403 auth, 404 unknown
  database/table, 500 otherwise), ``X-ClickHouse-Exception-Code: N`` and the ``Code: N. DB::Exception: …``
  text chdb raised, as the body.

Sessions (``session_id``) are not kept apart: all requests share the one chdb Session, serialised by a lock.
Controls: ``requests`` (statements executed, newest last), ``fail_next(code, message)`` answers the next
request with that ClickHouse error before running it (a server that is down or overloaded),
``lose_next_answer()`` runs the next request and then answers an error (the work is done, the client can't
know), ``direct(sql)`` reads the engine without HTTP, ``url()`` a store URL for a fresh database.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import threading
import uuid
import zlib
from base64 import b64decode
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest

_TRANSPORT_PARAMS = {
    "query",
    "database",
    "default_format",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "client_protocol_version",
    "user",
    "password",
    "quota_key",
    "buffer_size",
    "wait_end_of_query",
    "role",
}
_INSERT_RE = re.compile(
    rb"^\s*INSERT\s+INTO\s+(?P<table>[\w.`\"]+)\s*(?:\((?P<cols>[^)]*)\))?\s*FORMAT\s+(?P<fmt>\w+)[ \t]*\r?\n?",
    re.IGNORECASE,
)
_READ_ONLY_RE = re.compile(r"^\s*(SELECT|SHOW|DESCRIBE|DESC|EXISTS|WITH|EXPLAIN)\b", re.IGNORECASE)
_CODE_RE = re.compile(r"Code: (\d+)\.")
_SETTING_NAME_RE = re.compile(r"^\w+$")
# HTTP status ClickHouse answers for an exception code (src/Server/HTTPHandler.cpp exceptionCodeToHTTPStatus).
_STATUS = {62: 400, 36: 400, 27: 400, 41: 400, 43: 400, 47: 400, 164: 403, 516: 403, 60: 404, 81: 404}
_VERSION = "(version fake-chdb)"


class ClickHouseError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class FakeClickHouse:
    def __init__(self, data_dir: Path, *, user: str = "default", password: str = "") -> None:
        from chdb import session

        self.user, self.password = user, password
        self._spool = data_dir / "spool"
        self._spool.mkdir(parents=True, exist_ok=True)
        self._session = session.Session(str(data_dir / "chdb"))
        self._lock = threading.Lock()
        self._fail: list[tuple[int, str]] = []
        self._lose_answers = 0
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-clickhouse", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, database: str | None = None) -> str:
        """A store URL for `database` (default: a new, empty one)."""
        database = database or f"t_{uuid.uuid4().hex[:12]}"
        return f"clickhouse://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}?secure=0"

    def start(self) -> FakeClickHouse:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        with self._lock:
            self._session.close()

    def fail_next(
        self, code: int = 242, message: str = "Table is in readonly mode (TABLE_IS_READ_ONLY)"
    ) -> None:
        self._fail.append((code, message))

    def lose_next_answer(self) -> None:
        """Execute the next request, then answer 500 as if the connection dropped after the work was done."""
        self._lose_answers += 1

    def direct(self, sql: str, fmt: str = "TabSeparated") -> bytes:
        """Run SQL in the server's engine, bypassing HTTP (to inspect what a test stored)."""
        with self._lock:
            return bytes(self._session.query(sql, fmt).bytes())

    # --- one request --------------------------------------------------------------------------------

    def execute(self, method: str, params: dict[str, str], body: bytes) -> tuple[bytes, str]:
        """Run one HTTP request's statement; returns (response body, output format)."""
        if self._fail:
            raise ClickHouseError(*self._fail.pop(0))
        query = params.get("query", "").encode()
        full = query + b"\n" + body if query and body else query or body
        if not full.strip():
            raise ClickHouseError(62, "Empty query. (SYNTAX_ERROR)")
        insert = _INSERT_RE.match(full)
        data = full[insert.end() :] if insert else b""
        sql = full[: insert.end()].decode() if insert else full.decode()
        if method == "GET" and not _READ_ONLY_RE.match(sql):
            raise ClickHouseError(164, "Cannot execute query in readonly mode. (READONLY)")
        settings = {
            k: v for k, v in params.items() if k not in _TRANSPORT_PARAMS and not k.startswith("param_")
        }
        bind = {k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")}
        fmt = params.get("default_format", "TabSeparated")
        with self._lock:
            self.requests.append(sql.strip())
            self._run(f"USE {params.get('database') or 'default'}", "TabSeparated")
            applied: list[str] = []
            try:
                for name, value in settings.items():
                    if not _SETTING_NAME_RE.match(name):
                        raise ClickHouseError(115, f"Unknown setting {name}. (UNKNOWN_SETTING)")
                    self._run(f"SET {name} = {_quote(value)}", "TabSeparated")
                    applied.append(name)
                out = self._insert(insert, data) if insert else self._run(sql, fmt, bind)
                if self._lose_answers:
                    self._lose_answers -= 1
                    raise ClickHouseError(209, "Timeout exceeded while writing to socket. (SOCKET_TIMEOUT)")
                return out, fmt
            finally:
                for name in applied:
                    self._run(f"SET {name} = DEFAULT", "TabSeparated")

    def _insert(self, insert: re.Match[bytes], data: bytes) -> bytes:
        table = insert["table"].decode()
        cols = insert["cols"].decode() if insert["cols"] else None
        fmt = insert["fmt"].decode()
        spool = self._spool / f"{uuid.uuid4().hex}.{fmt.lower()}"
        spool.write_bytes(data)
        try:
            target = f"{table} ({cols})" if cols else table
            return self._run(
                f"INSERT INTO {target} SELECT {cols or '*'} FROM file({_quote(str(spool))}, {_quote(fmt)})",
                "TabSeparated",
            )
        finally:
            spool.unlink()

    def _run(self, sql: str, fmt: str, params: dict[str, str] | None = None) -> bytes:
        try:
            result = self._session.query(sql, fmt, params=params or None)
        except Exception as exc:  # chdb raises ChdbError (or RuntimeError) carrying ClickHouse's message
            text = str(exc)
            match = _CODE_RE.search(text)
            raise ClickHouseError(int(match[1]) if match else 1002, text) from exc
        return bytes(result.bytes()) if result is not None else b""

    # --- HTTP ---------------------------------------------------------------------------------------

    def _authorised(self, headers: Any, params: dict[str, str]) -> bool:
        user, password = params.get("user"), params.get("password", "")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = b64decode(auth[6:]).decode().partition(":")
        elif headers.get("X-ClickHouse-User"):
            user, password = headers["X-ClickHouse-User"], headers.get("X-ClickHouse-Key", "")
        return (user or "default") == self.user and password == self.password

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if url.path in ("/ping", "/ping/"):
                    self._answer(200, b"Ok.\n", {})
                    return
                query_id = params.get("query_id") or str(uuid.uuid4())
                try:
                    if not fake._authorised(self.headers, params):
                        raise ClickHouseError(
                            516,
                            f"{params.get('user', 'default')}: Authentication failed: password is incorrect, "
                            "or there is no user with such name. (AUTHENTICATION_FAILED)",
                        )
                    encoding = self.headers.get("Content-Encoding", "")
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "deflate":
                        body = zlib.decompress(body)
                    elif encoding:
                        raise ClickHouseError(
                            48, f"Unsupported Content-Encoding {encoding} in this fake. (NOT_IMPLEMENTED)"
                        )
                    out, fmt = fake.execute(method, params, body)
                except ClickHouseError as exc:
                    text = str(exc)
                    message = (
                        text if text.startswith("Code: ") else f"Code: {exc.code}. DB::Exception: {text}"
                    )
                    self._answer(
                        _STATUS.get(exc.code, 500),
                        f"{message} {_VERSION}\n".encode(),
                        {"X-ClickHouse-Exception-Code": str(exc.code), "X-ClickHouse-Query-Id": query_id},
                    )
                    return
                self._answer(
                    200,
                    out,
                    {
                        "X-ClickHouse-Query-Id": query_id,
                        "X-ClickHouse-Format": fmt,
                        "X-ClickHouse-Timezone": "UTC",
                        "X-ClickHouse-Summary": json.dumps({"result_bytes": str(len(out))}),
                    },
                )

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture(scope="module")
def clickhouse_server() -> Iterator[FakeClickHouse]:
    """A fake ClickHouse server per test module (starting chdb takes ~1 s); tests take fresh databases."""
    with tempfile.TemporaryDirectory(prefix="fake-clickhouse-") as tmp:
        fake = FakeClickHouse(Path(tmp), password="s3cret").start()
        try:
            yield fake
        finally:
            fake.stop()

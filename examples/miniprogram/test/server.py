"""A real `huoli serve` on 127.0.0.1 for the example's node test, with the fake WeChat server behind its logins.

Run with the project's Python (.venv/bin/python) from anywhere. Prints one JSON line (endpoint, the app's
WeChat AppID, an operator key, the wx.login codes the simulated mini-program returns), then serves until
its standard input closes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))  # tests.fakes: the fake WeChat server the Python suite uses too

import httpx  # noqa: E402
from tests.fakes.wechat_server import FakeWeChat  # noqa: E402

APP_ID, WX_APPID, WX_SECRET = "shop", "wx00000000000000e1", "example-secret-0123456789"
CODES = [f"example-code-{i}" for i in range(1, 6)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def huoli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="huoli-example-") as tmp, FakeWeChat() as wechat:
        wechat.register_app(WX_APPID, WX_SECRET)
        for code in CODES:
            wechat.issue_code("oEXAMPLE-1", appid=WX_APPID, code=code)
        env = {
            **os.environ,
            "HUOLI_DATA_DIR": str(Path(tmp) / "var"),
            "HUOLI_WECHAT_API_BASE": wechat.url,
            "HUOLI_OUTBOX_RELAY_INTERVAL_S": "0.1",
            "COLUMNS": "200",
        }
        huoli("apps", "create", APP_ID, "--name", "Example shop", "--wx-appid", WX_APPID,
              env={**env, "HUOLI_WX_SECRET": WX_SECRET})  # fmt: skip
        key = huoli("keys", "create", "--app", APP_ID, "--role", "operator", env=env).strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "huoli.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tmp) / "serve.log", "wb"),  # noqa: SIM115
        )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{endpoint}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.stderr.write((Path(tmp) / "serve.log").read_text())
                    raise SystemExit("huoli serve did not start")
                time.sleep(0.1)
            info = {
                "endpoint": endpoint,
                "appId": APP_ID,
                "wxAppId": WX_APPID,
                "operatorKey": key,
                "codes": CODES,
            }
            print(json.dumps(info), flush=True)
            sys.stdin.read()  # the node test closes it when done (or dies)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()

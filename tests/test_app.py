"""The app's error handlers (database refusals answer the caller's 4xx or a 503, never a 500) and its OpenAPI
document's security schemes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.app import create_app
from huoli.runtime import Runtime


def test_a_number_sqlite_cannot_bind_answers_422(runtime: Runtime) -> None:
    api = create_app(runtime=runtime)

    @api.get("/test-overflow")
    def overflow() -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")  # what sqlite3 raises

    with TestClient(api) as client:
        r = client.get("/test-overflow")
    assert r.status_code == 422 and r.json()["code"] == "invalid_value", r.text


def test_openapi_declares_the_security_schemes_and_each_route_its_lock(runtime: Runtime) -> None:
    with TestClient(create_app(runtime=runtime)) as client:
        doc = client.get("/openapi.json").json()
        docs_page = client.get("/docs").text
    schemes = doc["components"]["securitySchemes"]
    assert schemes["OperatorKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "hlk_<id>.<secret>",
        "description": schemes["OperatorKey"]["description"],
    }
    assert (schemes["OperatorKeyHeader"]["in"], schemes["OperatorKeyHeader"]["name"]) == (
        "header",
        "X-Huoli-Key",
    )
    assert (schemes["SessionToken"]["scheme"], schemes["AppId"]["name"]) == ("bearer", "X-Huoli-App-Id")
    signed = ["SignedTimestamp", "SignedNonce", "Signature"]
    assert [schemes[s]["name"] for s in signed] == ["X-Huoli-Timestamp", "X-Huoli-Nonce", "X-Huoli-Signature"]
    assert "HMAC-SHA256" in schemes["Signature"]["description"]

    def lock(path: str, method: str) -> list[dict[str, list[str]]]:
        return doc["paths"][path][method]["security"]

    # an operator key in either header; everything else a route needs, together
    assert lock("/admin/promotions/overview", "get") == [{"OperatorKey": []}, {"OperatorKeyHeader": []}]
    assert lock("/admin/keys", "post") == [{"OperatorKey": []}, {"OperatorKeyHeader": []}]
    assert lock("/v1/promotions/coupons", "get") == [{"AppId": [], "SessionToken": []}]
    assert lock("/v1/auth/wechat", "post") == [{"AppId": []}]
    assert lock("/v1/server/orders/paid", "post") == [
        {"AppId": [], "SignedTimestamp": [], "SignedNonce": [], "Signature": []}
    ]
    assert "security" not in doc["paths"]["/healthz"]["get"]
    # credentials are schemes, not parameters each route lists
    params = [
        p["name"] for item in doc["paths"].values() for op in item.values() for p in op.get("parameters", [])
    ]
    assert not {"authorization", "x-huoli-key", "x-huoli-app-id"} & {p.lower() for p in params}
    assert "swagger-ui" in docs_page


def test_docs_shows_authorize_and_a_lock_on_each_protected_route(
    console_anon: ConsoleSession, live_server: LiveServer
) -> None:
    page = console_anon.page
    page.goto(f"{live_server.url}/docs")
    page.locator("button.authorize").wait_for()
    overview = page.locator(".opblock", has_text="/admin/promotions/overview")
    assert overview.locator(".authorization__btn").count() == 1  # the route's lock
    assert page.locator(".opblock", has_text="/healthz").locator(".authorization__btn").count() == 0
    console_anon.shot("docs")
    page.screenshot(path=str(console_anon.artifacts / "docs-top.png"))  # the first screen, where Authorize is
    page.locator("button.authorize").click()
    dialog = page.locator(".dialog-ux")
    dialog.wait_for()
    for name in ("OperatorKey", "OperatorKeyHeader", "SessionToken", "AppId", "Signature"):
        assert dialog.get_by_text(f"{name} (", exact=False).count() >= 1, name
    page.screenshot(path=str(console_anon.artifacts / "docs-authorize-top.png"))

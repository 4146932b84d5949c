"""Staff accounts: sign-in (same answer for unknown users), lockout, TOTP, invitations, resets, sessions,
roles, the audit trail naming the person, app isolation, concurrent accepts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from huoli.apps.schemas import Role
from huoli.audit.models import AuditEntry
from huoli.db import read_only, unit_of_work
from huoli.errors import HuoliError
from huoli.runtime import Runtime
from huoli.staff import flows, service
from huoli.staff.models import StaffMember
from huoli.staff.schemas import InvitationAccept

PASSWORD = "correct horse battery"


def _member(runtime: Runtime, app_id: str, username: str, role: Role = Role.owner) -> str:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return service.add_member(
            db, app_id=app_id, username=username, password=PASSWORD, role=role, now=runtime.clock()
        ).id


def _login(client: TestClient, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/v1/staff/login", json={"username": username, "password": password, **extra})


def _as(token: str, app_id: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {token}"}
    if app_id:
        h["X-Huoli-App-Id"] = app_id
    return h


@pytest.fixture
def shop(runtime: Runtime, make_app: Callable[..., Any], clock: Any) -> Any:
    clock.set(clock())  # frozen: lockouts and TOTP steps move only when the test says so
    return make_app("shop")


def test_login_ok_and_bad_and_unknown_answer_alike(runtime: Runtime, client: TestClient, shop: Any) -> None:
    _member(runtime, "shop", "mei")
    ok = _login(client, "Mei")
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["token"].startswith("hls_") and body["staff"]["apps"] == [
        {"app_id": "shop", "name": "shop", "role": "owner"}
    ]
    bad, unknown = _login(client, "mei", "wrong password!"), _login(client, "nobody", "wrong password!")
    assert bad.status_code == unknown.status_code == 401
    assert bad.json() == unknown.json() and bad.json()["code"] == "invalid_credentials"
    assert client.get("/admin/app", headers=_as(body["token"])).json()["role"] == "owner"  # the only app
    with read_only(runtime.sessions) as db:  # only an argon2 hash is stored
        stored = db.scalar(select(StaffMember.password_hash))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


def test_lockout_after_failures_answers_429_with_retry_after(
    runtime: Runtime, client: TestClient, shop: Any, clock: Any
) -> None:
    _member(runtime, "shop", "mei")
    for name in ("mei", "ghost"):  # an existing and an unknown username lock alike
        for _ in range(service.USER_FAILURES):
            assert _login(client, name, "wrong password!").status_code == 401
        locked = _login(client, name, PASSWORD)
        assert locked.status_code == 429 and locked.headers["Retry-After"] == "30", locked.text
        assert locked.json()["code"] == "too_many_attempts"
    clock.advance(timedelta(seconds=31))
    assert _login(client, "mei").status_code == 200  # the lock ends; success clears the count
    for _ in range(service.USER_FAILURES):
        _login(client, "ghost", "wrong password!")  # ghost's count continues: a longer lock each time
    assert _login(client, "ghost", "x").headers["Retry-After"] == "60"


def test_lockout_per_ip(runtime: Runtime, client: TestClient, shop: Any) -> None:
    _member(runtime, "shop", "mei")
    for i in range(service.IP_FAILURES):
        assert _login(client, f"user{i}", "wrong password!").status_code == 401
    assert _login(client, "mei").status_code == 429  # this address sprayed usernames


def test_totp_required_once_enrolled(runtime: Runtime, client: TestClient, shop: Any, clock: Any) -> None:
    _member(runtime, "shop", "mei")
    token = _login(client, "mei").json()["token"]
    enrol = client.post("/admin/staff/me/totp", headers=_as(token, "shop"))
    assert enrol.status_code == 200 and enrol.json()["uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(enrol.json()["secret"])
    wrong = client.post("/admin/staff/me/totp/confirm", json={"code": "000000"}, headers=_as(token, "shop"))
    if totp.at(clock()) != "000000":
        assert wrong.status_code == 422 and wrong.json()["details"][0]["field"] == "code"
    ok = client.post(
        "/admin/staff/me/totp/confirm", json={"code": totp.at(clock())}, headers=_as(token, "shop")
    )
    assert ok.json() == {"totp_enabled": True}
    assert _login(client, "mei").json()["code"] == "totp_required"
    clock.advance(timedelta(seconds=30))
    code = totp.at(clock())
    bad = str((int(code) + 1) % 1_000_000).zfill(6)
    assert _login(client, "mei", totp=bad).json()["code"] == "invalid_totp"
    assert _login(client, "mei", totp=code).status_code == 200
    assert _login(client, "mei", totp=code).json()["code"] == "invalid_totp"  # a code works once


def test_invitation_accepts_once_and_signs_in(runtime: Runtime, client: TestClient, shop: Any) -> None:
    owner = _login(client, *[_member(runtime, "shop", "boss") and "boss"]).json()["token"]
    r = client.post("/admin/staff/invitations", json={"role": "analyst", "note": "Li"}, headers=_as(owner))
    assert r.status_code == 201, r.text
    link = r.json()["token"]
    body = {"username": "li.na", "password": "another long one"}
    accepted = client.post(f"/v1/staff/invitations/{link}/accept", json=body)
    assert accepted.status_code == 200 and accepted.json()["staff"]["apps"][0]["role"] == "analyst"
    again = client.post(f"/v1/staff/invitations/{link}/accept", json={**body, "username": "other"})
    assert again.status_code == 409 and again.json()["code"] == "invitation_used"
    assert (
        client.post("/v1/staff/invitations/hli_nope/accept", json=body).json()["code"] == "invalid_invitation"
    )
    bad = client.post(f"/v1/staff/invitations/{link}/accept", json={"username": "X", "password": ""})
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["details"]} == {"username", "password"}
    members = client.get("/admin/staff", headers=_as(owner)).json()["items"]
    assert [(m["username"], m["role"]) for m in members] == [("boss", "owner"), ("li.na", "analyst")]


def test_reset_token_once_and_expired(runtime: Runtime, client: TestClient, shop: Any, clock: Any) -> None:
    _member(runtime, "shop", "boss")
    mei = _member(runtime, "shop", "mei", Role.operator)
    owner = _login(client, "boss").json()["token"]
    mei_session = _login(client, "mei").json()["token"]
    reset = client.post(f"/admin/staff/{mei}/reset", json={}, headers=_as(owner)).json()["token"]
    done = client.post(f"/v1/staff/reset/{reset}", json={"password": "brand new password"})
    assert done.status_code == 200
    assert client.get("/admin/app", headers=_as(mei_session)).json()["code"] == "revoked_session"
    assert (
        _login(client, "mei").status_code == 401
        and _login(client, "mei", "brand new password").status_code == 200
    )
    used = client.post(f"/v1/staff/reset/{reset}", json={"password": "yet another password"})
    assert used.status_code == 409 and used.json()["code"] == "reset_token_used"
    late = client.post(f"/admin/staff/{mei}/reset", json={}, headers=_as(owner)).json()["token"]
    clock.advance(service.RESET_TTL + timedelta(seconds=1))
    owner = _login(client, "boss").json()["token"]
    expired = client.post(f"/v1/staff/reset/{late}", json={"password": "yet another password"})
    assert expired.status_code == 410 and expired.json()["code"] == "reset_token_expired"
    short = client.post(f"/v1/staff/reset/{late}", json={"password": "short"})
    assert short.status_code == 422 and short.json()["details"][0]["field"] == "password"


def test_session_revocation_takes_effect_at_once(runtime: Runtime, client: TestClient, shop: Any) -> None:
    _member(runtime, "shop", "boss")
    mei = _member(runtime, "shop", "mei", Role.operator)
    one, two = _login(client, "mei").json()["token"], _login(client, "mei").json()["token"]
    mine = client.get("/admin/staff/sessions", headers=_as(one)).json()
    assert len(mine) == 2 and [s["current"] for s in mine].count(True) == 1
    other = next(s["id"] for s in mine if not s["current"])
    assert client.delete(f"/admin/staff/sessions/{other}", headers=_as(one)).status_code == 200
    assert client.get("/admin/app", headers=_as(two)).json()["code"] == "revoked_session"
    assert client.get("/admin/app", headers=_as(one)).status_code == 200
    owner = _login(client, "boss").json()["token"]
    assert client.delete(f"/admin/staff/{mei}/sessions", headers=_as(owner)).json() == {"revoked": 1}
    assert client.get("/admin/app", headers=_as(one)).status_code == 401
    assert client.post("/v1/staff/logout", headers=_as(owner)).json() == {"ok": True}
    assert client.get("/admin/app", headers=_as(owner)).json()["code"] == "revoked_session"
    assert client.get("/admin/staff/sessions", headers=_as(shop.keys["owner"])).json()["code"] == "staff_only"


def test_roles_analyst_cannot_write_and_last_owner_stays(
    runtime: Runtime, client: TestClient, shop: Any
) -> None:
    boss = _member(runtime, "shop", "boss")
    mei = _member(runtime, "shop", "mei", Role.analyst)
    analyst = _login(client, "mei").json()["token"]
    assert client.get("/admin/staff", headers=_as(analyst)).status_code == 200
    for method, path, body in (
        ("POST", "/admin/staff/invitations", {"role": "owner"}),
        ("PUT", f"/admin/staff/{mei}/role", {"role": "owner"}),
        ("DELETE", f"/admin/staff/{boss}", None),
    ):
        r = client.request(method, path, json=body, headers=_as(analyst))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", path
    owner = _login(client, "boss").json()["token"]
    r = client.put(f"/admin/staff/{mei}/role", json={"role": "operator"}, headers=_as(owner))
    assert r.json()["role"] == "operator"
    assert client.put(f"/admin/staff/{mei}/role", json={"role": "god"}, headers=_as(owner)).status_code == 422
    with unit_of_work(runtime.sessions, app_id="shop") as db:  # only the staff owner left (keys revoked)
        from huoli.apps.models import ApiKey

        for key in db.scalars(select(ApiKey)):
            key.revoked_at = runtime.clock()
    r = client.put(f"/admin/staff/{boss}/role", json={"role": "analyst"}, headers=_as(owner))
    assert r.status_code == 409 and r.json()["code"] == "last_owner"
    assert client.delete(f"/admin/staff/{mei}", headers=_as(owner)).status_code == 200
    assert client.get("/admin/app", headers=_as(analyst)).json()["code"] == "not_a_member"


def test_audit_entries_name_the_staff_member(runtime: Runtime, client: TestClient, shop: Any) -> None:
    boss = _member(runtime, "shop", "boss")
    owner = _login(client, "boss").json()["token"]
    client.post("/admin/staff/invitations", json={"role": "operator"}, headers=_as(owner))
    with read_only(runtime.sessions, app_id="shop") as db:
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None and entry.action == "POST /admin/staff/invitations"
        assert (entry.actor_kind, entry.actor_id, entry.actor_role) == ("staff", boss, "owner")
        assert "'token_hash': '***'" in str(entry.changes)  # the link's hash stays out of the trail
        accepted = db.scalar(select(func.count()).where(AuditEntry.actor_kind == "staff"))
    assert accepted == 1


def test_a_member_of_app_a_cannot_act_on_app_b(
    runtime: Runtime, client: TestClient, shop: Any, make_app: Callable[..., Any]
) -> None:
    make_app("other")
    _member(runtime, "shop", "mei")
    b_member = _member(runtime, "other", "bo")
    token = _login(client, "mei").json()["token"]
    r = client.get("/admin/app", headers=_as(token, "other"))
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"
    assert client.get("/admin/app", headers=_as(token, "nope")).json() == r.json()  # unknown app alike
    r = client.put(f"/admin/staff/{b_member}/role", json={"role": "analyst"}, headers=_as(token, "shop"))
    assert r.status_code == 404 and r.json()["code"] == "unknown_staff"
    # a person in two apps chooses one
    with unit_of_work(runtime.sessions, app_id="other") as db:
        link = service.invite(db, role=Role.analyst, note=None, by="t", now=runtime.clock())[1]
    flows.accept_invitation(
        runtime, link, InvitationAccept(username="mei", password=PASSWORD), ip=None, user_agent=None
    )
    r = client.get("/admin/app", headers=_as(token))
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "X-Huoli-App-Id"
    assert client.get("/admin/app", headers=_as(token, "other")).json()["role"] == "analyst"
    assert (
        client.get("/admin/app", headers=_as(f"{token}~other")).json()["role"] == "analyst"
    )  # the console's way
    assert client.get("/admin/app", headers=_as(f"{token}~shop")).json()["role"] == "owner"


def test_two_concurrent_accepts_make_one_account(runtime: Runtime, shop: Any) -> None:
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        link = service.invite(db, role=Role.operator, note=None, by="t", now=runtime.clock())[1]
    barrier, results = threading.Barrier(2), []

    def accept(name: str) -> None:
        barrier.wait(timeout=10)
        try:
            flows.accept_invitation(
                runtime, link, InvitationAccept(username=name, password=PASSWORD), ip=None, user_agent=None
            )
            results.append("ok")
        except HuoliError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=accept, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["invitation_used", "ok"]
    with read_only(runtime.sessions) as db:
        assert db.scalar(select(func.count()).select_from(StaffMember)) == 1

"""Consent records on SQLite and PostgreSQL: the user records and reads decisions through /v1, repeats add
nothing, history is kept, bad purposes are refused with nothing written, apps never see each other's
consents, the merchant's backend and operators record too, the admin history and counts, the contract other
domains call, and what an export and an erasure do with them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import Clock
from tests.loyalty.helpers import mp_headers, signed_post

from huoli.audit.models import AuditEntry
from huoli.audit.service import Actor
from huoli.db import unit_of_work
from huoli.privacy import consents, flows
from huoli.privacy.models import ConsentRecord
from huoli.runtime import Runtime

PATH = "/v1/privacy/consents"


def key(app: Any, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.keys[role]}"}


def decision(purpose: str, granted: bool, version: str = "2026-12-01") -> dict[str, Any]:
    return {"purpose": purpose, "granted": granted, "policy_version": version}


def states(body: dict[str, Any]) -> dict[str, bool | None]:
    return {c["purpose"]: c["granted"] for c in body["consents"]}


def rows_of(runtime: Runtime, app_id: str) -> list[ConsentRecord]:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return list(db.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def test_record_read_and_history(client: TestClient, runtime: Runtime, clock: Clock, shop: Any) -> None:
    h = mp_headers(runtime, shop.id, "u_alice") | {"User-Agent": "Mozilla/5.0 MicroMessenger/8.0.50"}
    r = client.get(PATH, headers=h)
    assert r.status_code == 200, r.text
    fresh = {c["purpose"]: c for c in r.json()["consents"]}
    assert set(fresh) == set(consents.PURPOSES) and all(c["granted"] is None for c in fresh.values())
    # Nothing decided: opt-out purposes apply, opt-in ones and the privacy guide do not.
    assert fresh["personalised_recommendations"]["allowed"] is True
    assert fresh["marketing_messages"]["allowed"] is False and fresh["privacy_policy"]["allowed"] is False

    clock.set(clock() - timedelta(days=31))  # PyJWT refuses tokens issued in the (real) future
    body = {"consents": [decision("privacy_policy", True), decision("marketing_messages", True)]}
    r = client.post(PATH, json=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == 2
    got = states(r.json())
    assert got["privacy_policy"] is True and got["marketing_messages"] is True and got["analytics"] is None
    assert states(client.get(PATH, headers=h).json()) == got  # committed before the answer

    # The same decisions again (an SDK resending on every launch): nothing appended, same state.
    again = client.post(PATH, json=body, headers=h)
    assert again.status_code == 200 and again.json()["recorded"] == 0 and states(again.json()) == got
    assert len(rows_of(runtime, shop.id)) == 2

    # A withdrawal, then a new policy version agreed to: history kept, the latest decision counts.
    clock.advance(timedelta(minutes=5))
    r = client.post(PATH, json={"consents": [decision("marketing_messages", False)]}, headers=h)
    assert r.json()["recorded"] == 1 and states(r.json())["marketing_messages"] is False
    clock.advance(timedelta(days=30))
    h = mp_headers(runtime, shop.id, "u_alice") | {
        "User-Agent": "Mozilla/5.0 MicroMessenger/8.0.51"
    }  # new token
    r = client.post(PATH, json={"consents": [decision("privacy_policy", True, "2027-01-10")]}, headers=h)
    assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
    now = {c["purpose"]: c for c in client.get(PATH, headers=h).json()["consents"]}
    assert (
        now["privacy_policy"]["policy_version"] == "2027-01-10" and now["privacy_policy"]["source"] == "sdk"
    )
    assert now["marketing_messages"]["granted"] is False and now["marketing_messages"]["allowed"] is False

    rows = rows_of(runtime, shop.id)
    assert [(r.purpose, r.granted, r.policy_version) for r in rows] == [
        ("privacy_policy", True, "2026-12-01"),
        ("marketing_messages", True, "2026-12-01"),
        ("marketing_messages", False, "2026-12-01"),
        ("privacy_policy", True, "2027-01-10"),
    ]
    assert all(r.user_id == "u_alice" and r.source == "sdk" for r in rows)
    assert rows[0].recorded_at.tzinfo is not None and rows[-1].recorded_at - rows[0].recorded_at >= timedelta(
        days=30
    )
    assert rows[0].user_agent == "Mozilla/5.0 MicroMessenger/8.0.50" and rows[0].ip

    hist = client.get("/admin/privacy/consents", params={"user_id": "u_alice"}, headers=key(shop, "operator"))
    assert hist.status_code == 200, hist.text
    assert [(x["purpose"], x["granted"]) for x in hist.json()["history"]] == [
        ("privacy_policy", True),
        ("marketing_messages", False),
        ("marketing_messages", True),
        ("privacy_policy", True),
    ]
    assert hist.json()["history"][0]["user_agent"].startswith("Mozilla")
    # Analysts read the history without the evidence columns.
    seen = client.get("/admin/privacy/consents", params={"user_id": "u_alice"}, headers=key(shop, "analyst"))
    assert seen.status_code == 200 and len(seen.json()["history"]) == 4
    assert all(x["ip"] is None and x["user_agent"] is None for x in seen.json()["history"])
    assert states(hist.json())["marketing_messages"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"consents": [decision("privacy_policy", True), decision("telemetry", True)]}, "consents.1.purpose"),
        ({"consents": [decision("analytics", "yes")]}, "consents.0.granted"),  # type: ignore[arg-type]
        ({"consents": [decision("analytics", True, "")]}, "consents.0.policy_version"),
        ({"consents": [decision("analytics", True, "v 1; drop")]}, "consents.0.policy_version"),
        ({"consents": [decision("analytics", True), decision("analytics", False)]}, "consents"),
        ({"consents": []}, "consents"),
        ({"consents": [{"purpose": "analytics", "granted": True}]}, "consents.0.policy_version"),
    ],
)
def test_bad_decisions_are_refused_with_nothing_written(
    client: TestClient, runtime: Runtime, shop: Any, body: dict[str, Any], field: str
) -> None:
    r = client.post(PATH, json=body, headers=mp_headers(runtime, shop.id, "u_alice"))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"
    assert field in [d["field"] for d in r.json()["details"]], r.json()
    assert rows_of(runtime, shop.id) == []


def test_a_login_is_needed(client: TestClient, shop: Any) -> None:
    r = client.post(
        PATH, json={"consents": [decision("analytics", False)]}, headers={"X-Huoli-App-Id": shop.id}
    )
    assert r.status_code == 401 and r.json()["code"] == "login_required"
    assert client.get(PATH, headers={"X-Huoli-App-Id": shop.id}).status_code == 401


def test_two_apps_with_the_same_user_ids_never_see_each_others_consents(
    client: TestClient, runtime: Runtime, make_app: Any
) -> None:
    a, b = make_app("shop-a"), make_app("shop-b")
    for uid in ("u_1", "u_2"):
        r = client.post(
            PATH,
            json={"consents": [decision("marketing_messages", True)]},
            headers=mp_headers(runtime, a.id, uid),
        )
        assert r.status_code == 200 and r.json()["recorded"] == 1
    # In app b the same ids are other people: nothing decided, and b's own decisions stay in b.
    hb = mp_headers(runtime, b.id, "u_1")
    assert states(client.get(PATH, headers=hb).json())["marketing_messages"] is None
    r = client.post(PATH, json={"consents": [decision("marketing_messages", False)]}, headers=hb)
    assert r.json()["recorded"] == 1  # not "already in force" because of a's row (id ordering across apps)
    assert (
        states(client.get(PATH, headers=mp_headers(runtime, a.id, "u_1")).json())["marketing_messages"]
        is True
    )

    def counts(app: Any) -> dict[str, tuple[int, int]]:
        r = client.get("/admin/privacy/consents/summary", headers=key(app, "analyst"))
        assert r.status_code == 200, r.text
        return {c["purpose"]: (c["granted"], c["withdrawn"]) for c in r.json()}

    assert counts(a)["marketing_messages"] == (2, 0) and counts(b)["marketing_messages"] == (0, 1)
    hist = client.get("/admin/privacy/consents", params={"user_id": "u_1"}, headers=key(b, "analyst")).json()
    assert [x["granted"] for x in hist["history"]] == [False]
    with unit_of_work(runtime.sessions, app_id=a.id) as db:
        assert consents.current_consents(db, a.id, ["u_1", "u_2", "u_3"], "marketing_messages") == {
            "u_1": True,
            "u_2": True,
            "u_3": None,
        }
    with unit_of_work(runtime.sessions, app_id=b.id) as db:
        assert consents.current_consent(db, b.id, "u_1", "marketing_messages") is False
        with pytest.raises(RuntimeError):  # a session scoped to another app is refused, not read
            consents.current_consent(db, a.id, "u_1", "marketing_messages")


def test_the_contract_other_domains_call(runtime: Runtime, shop: Any) -> None:
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        for uid, granted in (("u_yes", True), ("u_no", False)):
            consents.record(
                db,
                user_id=uid,
                decisions=[consents.Decision("personalised_recommendations", granted, "v1")],
                origin=consents.Origin("server"),
                now=now,
            )
        # A later withdrawal wins over the earlier yes.
        consents.record(
            db,
            user_id="u_yes",
            decisions=[consents.Decision("marketing_messages", True, "v1")],
            origin=consents.Origin("sdk"),
            now=now,
        )
        consents.record(
            db,
            user_id="u_yes",
            decisions=[consents.Decision("marketing_messages", False, "v1")],
            origin=consents.Origin("sdk"),
            now=now,
        )
    many = [f"u_{i}" for i in range(1200)] + ["u_yes", "u_no"]  # past one chunk of ids
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        recs = consents.permitted(db, shop.id, many, "personalised_recommendations")
        assert "u_yes" in recs and "u_no" not in recs and len(recs) == 1201  # opt-out: undecided users in
        assert consents.permitted(db, shop.id, many, "marketing_messages") == set()  # opt-in: nobody yet
        assert consents.current_consent(db, shop.id, "u_yes", "marketing_messages") is False
        with pytest.raises(ValueError, match="unknown consent purpose"):
            consents.current_consent(db, shop.id, "u_yes", "marketing")


def test_server_and_operator_records(client: TestClient, runtime: Runtime, shop: Any) -> None:
    body = {"user_id": "u_bob", "consents": [decision("marketing_messages", True)]}
    r = signed_post(client, shop, "/v1/server/privacy/consents", body)
    assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
    unsigned = client.post("/v1/server/privacy/consents", json=body, headers={"X-Huoli-App-Id": shop.id})
    assert unsigned.status_code == 401

    withdraw = {"user_id": "u_bob", "consents": [decision("marketing_messages", False)]}
    refused = client.post("/admin/privacy/consents", json=withdraw, headers=key(shop, "analyst"))
    assert refused.status_code == 403
    r = client.post("/admin/privacy/consents", json=withdraw, headers=key(shop, "operator"))
    assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
    bad = client.post(
        "/admin/privacy/consents",
        json={"user_id": "u_bob", "consents": [decision("sms", False)]},
        headers=key(shop, "operator"),
    )
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "consents.0.purpose"

    rows = rows_of(runtime, shop.id)
    assert [(r.source, r.granted, r.recorded_by) for r in rows] == [
        ("server", True, None),
        ("operator", False, rows[1].recorded_by),
    ]
    assert rows[1].recorded_by and rows[1].ip is None
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        audited = db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "POST /admin/privacy/consents")
        )
        assert audited == 1  # the refused and the invalid call left no entry

    r = client.get("/admin/privacy/consents", params={"user_id": "u_bob"}, headers=key(shop, "analyst"))
    assert r.status_code == 200, r.text
    assert [x["source"] for x in r.json()["history"]] == ["operator", "server"]
    no_user = client.get("/admin/privacy/consents", headers=key(shop, "operator"))
    assert no_user.status_code == 422 and no_user.json()["details"][0]["field"] == "user_id"


def test_summary_counts_current_decisions(client: TestClient, runtime: Runtime, shop: Any) -> None:
    for uid, granted, version in (("u_1", True, "v1"), ("u_2", True, "v2"), ("u_3", False, "v2")):
        r = client.post(
            PATH,
            json={"consents": [decision("analytics", granted, version)]},
            headers=mp_headers(runtime, shop.id, uid),
        )
        assert r.status_code == 200
    # u_1 changes their mind: counted once, as withdrawn.
    client.post(
        PATH,
        json={"consents": [decision("analytics", False, "v2")]},
        headers=mp_headers(runtime, shop.id, "u_1"),
    )
    summary = {
        c["purpose"]: c
        for c in client.get("/admin/privacy/consents/summary", headers=key(shop, "analyst")).json()
    }
    assert summary["analytics"] | {} == {
        "purpose": "analytics",
        "basis": "opt_out",
        "granted": 1,
        "withdrawn": 2,
        "granted_by_version": {"v2": 1},
    }
    assert summary["privacy_policy"]["granted"] == 0 and summary["privacy_policy"]["basis"] == "authorisation"
    assert client.get("/admin/privacy/consents/summary", headers={}).status_code == 401


def test_export_contains_consents_and_erasure_anonymises_them(
    client: TestClient, runtime: Runtime, shop: Any
) -> None:
    for uid in ("u_alice", "u_bob"):
        body = {"consents": [decision("privacy_policy", True), decision("marketing_messages", True)]}
        h = mp_headers(runtime, shop.id, uid) | {"User-Agent": "MicroMessenger"}
        assert client.post(PATH, json=body, headers=h).status_code == 200
    client.post(
        PATH,
        json={"consents": [decision("marketing_messages", False)]},
        headers=mp_headers(runtime, shop.id, "u_alice") | {"User-Agent": "MicroMessenger"},
    )

    r = client.post("/admin/privacy/exports", json={"user_id": "u_alice"}, headers=key(shop, "operator"))
    assert r.status_code == 200, r.text
    exported = r.json()["operational"]["privacy"]["privacy_consents"]
    assert [(x["purpose"], x["granted"]) for x in exported] == [
        ("privacy_policy", True),
        ("marketing_messages", True),
        ("marketing_messages", False),
    ]
    assert all(x["user_id"] == "u_alice" and x["user_agent"] == "MicroMessenger" for x in exported)
    assert "privacy_requests" not in r.json()["operational"]["privacy"]

    row = flows.erase(runtime, app_id=shop.id, user_id="u_alice", actor=Actor.cli(), action="test erase")
    assert row.result is not None
    assert row.result["operational"]["privacy"] == {"privacy_consents:anonymised": 3}
    rows = rows_of(runtime, shop.id)
    kept = [r for r in rows if r.user_id != "u_bob"]
    # The ledger keeps its shape (purpose, decision, version, source, time) and leads back to nobody.
    assert len(kept) == 3 and len({r.user_id for r in kept}) == 1 and kept[0].user_id.startswith("erased_")
    assert all(r.ip is None and r.user_agent is None for r in kept)
    assert [(r.purpose, r.granted) for r in kept] == [(x["purpose"], x["granted"]) for x in exported]
    assert all(r.user_agent == "MicroMessenger" for r in rows if r.user_id == "u_bob")  # bob untouched

    after = client.post("/admin/privacy/exports", json={"user_id": "u_alice"}, headers=key(shop, "operator"))
    assert after.json()["operational"]["privacy"]["privacy_consents"] == []
    h = mp_headers(
        runtime, shop.id, "u_alice"
    )  # a later login starts with nothing decided: the SDK asks again
    assert all(v is None for v in states(client.get(PATH, headers=h).json()).values())
    summary = {
        c["purpose"]: c
        for c in client.get("/admin/privacy/consents/summary", headers=key(shop, "analyst")).json()
    }
    assert summary["marketing_messages"]["granted"] == 1 and summary["marketing_messages"]["withdrawn"] == 0
    again = flows.erase(runtime, app_id=shop.id, user_id="u_alice", actor=Actor.cli(), action="test erase")
    assert again.result is not None and again.result["operational"]["privacy"] == {
        "privacy_consents:anonymised": 0
    }

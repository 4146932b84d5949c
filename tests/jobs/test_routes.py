"""The admin API on SQLite and PostgreSQL: list jobs, recent runs, run now (operator; audited; after commit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.jobs.helpers import drain

from huoli.jobs.queue import queue_for
from huoli.runtime import Runtime


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_list_run_now_and_recent_runs(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any]
) -> None:
    shop, other = make_app("shop"), make_app("other")
    r = client.get("/admin/jobs", headers=auth(shop.keys["analyst"]))
    assert r.status_code == 200
    jobs = {j["name"]: j for j in r.json()}
    assert jobs["loyalty.expire"]["schedule"] == "cron 5 0 * * *"
    assert jobs["loyalty.expire"]["timezone"] == "Asia/Shanghai"
    assert jobs["loyalty.expire"]["next_run"].endswith("+08:00") or jobs["loyalty.expire"]["next_run"]
    assert jobs["loyalty.expire"]["runnable"] and not jobs["auth.prune"]["runnable"]
    assert jobs["loyalty.expire"]["last_run"] is None

    r = client.post("/admin/jobs/loyalty.expire/run", headers=auth(shop.keys["operator"]))
    assert r.status_code == 202, r.text
    run = r.json()
    assert (run["status"], run["trigger"], run["app_id"]) == ("queued", "api", "shop")
    trail = client.get("/admin/audit", headers=auth(shop.keys["owner"])).json()["items"]
    assert trail[0]["action"] == "POST /admin/jobs/{name}/run" and trail[0]["target"] == {
        "name": "loyalty.expire"
    }
    assert trail[0]["changes"][0]["table"] == "job_runs"

    drain(runtime, queue_for(runtime))
    runs = client.get("/admin/jobs/runs", headers=auth(shop.keys["analyst"])).json()["items"]
    assert [(x["id"], x["status"]) for x in runs] == [(run["id"], "ok")]
    assert runs[0]["result"] == {"points_expired": 0} and runs[0]["duration_ms"] is not None
    listed = {j["name"]: j for j in client.get("/admin/jobs", headers=auth(shop.keys["analyst"])).json()}
    assert listed["loyalty.expire"]["last_run"]["status"] == "ok"
    # another app sees none of it
    assert client.get("/admin/jobs/runs", headers=auth(other.keys["owner"])).json()["items"] == []
    assert (
        client.get("/admin/jobs/runs?job=loyalty.tiers", headers=auth(shop.keys["owner"])).json()["items"]
        == []
    )


@pytest.mark.parametrize(
    ("path", "role", "status", "code"),
    [
        ("/admin/jobs/loyalty.expire/run", "analyst", 403, "forbidden"),
        ("/admin/jobs/loyalty.nope/run", "operator", 404, "job_not_found"),
        ("/admin/jobs/auth.prune/run", "operator", 403, "global_job"),
        ("/admin/jobs/Bad%20Name/run", "operator", 422, "validation_failed"),
    ],
)
def test_run_now_refusals_write_nothing(
    client: TestClient,
    runtime: Runtime,
    make_app: Callable[..., Any],
    path: str,
    role: str,
    status: int,
    code: str,
) -> None:
    shop = make_app("shop")
    r = client.post(path, headers=auth(shop.keys[role]))
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert client.get("/admin/jobs/runs", headers=auth(shop.keys["owner"])).json()["items"] == []
    assert queue_for(runtime).pending("general") == 0


def test_bad_list_parameters_are_422(client: TestClient, make_app: Callable[..., Any]) -> None:
    shop = make_app("shop")
    r = client.get("/admin/jobs/runs?limit=0", headers=auth(shop.keys["owner"]))
    assert r.status_code == 422 and r.json()["details"][0]["field"]

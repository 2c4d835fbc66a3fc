"""The JSON endpoints the review page uses: runs.json, probe tests, a lead's re-run."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from helpers import csrf_from, logged_in
from helpers.runs import add_tasks, assign, echo_runner, slow_echo_runner
from helpers.sandbox import require_backend, sandbox_dir
from sqlalchemy import func, select

from harness import probes
from harness import runs as runqueue
from harness.models import AuditEvent, ProbeTest, Task, utcnow
from harness.runs import Worker
from sandboxes.base import Limits, RunResult
from web.extensions import app_settings
from web.runs import use_executor


@pytest.fixture
def site(db, queued_project, make_user, make_project):  # type: ignore[no-untyped-def]
    project = queued_project("w", add_tasks(2))
    make_project("other")
    make_user("lead1", role="lead", projects=["w"])
    make_user("ann", projects=["w"])
    make_user("ann2", projects=["w"])
    make_user("out", projects=["other"])
    make_user("lead2", role="lead", projects=["other"])
    make_user("root", role="admin")
    task = db.scalars(select(Task).where(Task.project_id == project.id, Task.external_id == "t0")).one()
    return project, task


def login_with_token(login, name: str):  # type: ignore[no-untyped-def]
    client = login(name)
    token = csrf_from(client.get("/").get_data(as_text=True))
    return client, {"X-CSRFToken": token}


def probe_count(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.scalar(select(func.count(ProbeTest.id))) or 0)


# -- runs.json ---------------------------------------------------------------------


def test_runs_json_shape_while_queued_and_when_done(client, login, site, session_factory,
                                                    db) -> None:
    project, task = site
    assign(db, project, task, "ann")
    login("ann")
    body = client.get("/p/w/t/t0/runs.json").get_json()
    ids = sorted(str(c.id) for c in task.candidates)
    assert body["pending"] is True
    assert sorted(body["runs"]) == ids
    assert {r["state"] for r in body["runs"].values()} == {"queued"}
    Worker(session_factory, echo_runner, concurrency=2, until_idle=True).run()
    resp = client.get("/p/w/t/t0/runs.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["pending"] is False
    a, b = (body["runs"][str(c.id)] for c in task.candidates)
    assert (a["state"], a["status"], b["status"]) == ("done", "passed", "failed")
    assert a["tests"] == [{"name": "test_solution.py::test", "outcome": "passed", "message": "",
                           "hidden": False}]
    for key in ("wall_s", "peak_memory_bytes", "isolation", "stdout", "stderr",
                "stdout_truncated", "stderr_truncated", "tamper"):
        assert key in a
    assert a["isolation"] == "full" and a["tamper"] == [] and a["stdout"] == "memory_mb=512"


def test_runs_json_is_for_members_only(client, login, site) -> None:
    anonymous = client.get("/p/w/t/t0/runs.json", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "unauthorized"
    login("out")
    resp = client.get("/p/w/t/t0/runs.json")
    assert resp.status_code == 404
    assert resp.get_json() == {"error": {"code": "not_found", "field": "",
                                         "message": resp.get_json()["error"]["message"]}}
    assert client.get("/p/other/t/t0/runs.json").status_code == 404  # no such task there


def test_runs_json_is_for_the_tasks_annotators_and_leads(app, site, db) -> None:
    """Annotators see candidates only through their own assignment: another task's runs,
    or a task they were never given, is a 404 like a task that does not exist."""
    project, task = site
    other_task = db.scalars(select(Task).where(Task.project_id == project.id,
                                               Task.external_id == "t1")).one()
    mine = assign(db, project, task, "ann")
    no_assignment, _ = logged_in(app, "ann2")
    resp = no_assignment.get("/p/w/t/t0/runs.json")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    ann, _ = logged_in(app, "ann")
    assert ann.get("/p/w/t/t0/runs.json").status_code == 200
    assert ann.get(f"/p/w/t/{other_task.external_id}/runs.json").status_code == 404
    mine.state = "submitted"  # the annotator's own work stays readable
    db.commit()
    assert ann.get("/p/w/t/t0/runs.json").status_code == 200
    for name in ("lead1", "root"):
        c, _ = logged_in(app, name)
        assert c.get("/p/w/t/t0/runs.json").status_code == 200, name
        assert c.get("/p/w/t/t1/runs.json").status_code == 200, name


def test_task_ids_with_slashes(client, login, db, queued_project, make_user) -> None:
    from helpers import task_line

    queued_project("sl", [task_line("HumanEval/3")])
    make_user("lead1", role="lead", projects=["sl"])
    c, headers = login_with_token(login, "lead1")
    body = c.get("/p/sl/t/HumanEval/3/runs.json").get_json()
    assert body["pending"] is True and len(body["runs"]) == 2
    assert c.post("/p/sl/t/HumanEval/3/rerun", headers=headers, json={}).status_code == 202
    assert c.get("/p/sl/t/HumanEval/3").status_code == 200  # the page itself still routes


def test_runs_json_without_tests(client, login, db, make_project, import_file, make_user, tmp_path) -> None:
    from helpers import task_line, write_jsonl

    project = make_project("nt", tests=False)
    import_file(project, write_jsonl(tmp_path / "nt.jsonl", [task_line("t1")]))
    make_user("ann", projects=["nt"])
    assign(db, project, db.scalars(select(Task).where(Task.project_id == project.id)).one(), "ann")
    login("ann")
    body = client.get("/p/nt/t/t1/runs.json").get_json()
    assert body["pending"] is False
    assert {r["state"] for r in body["runs"].values()} == {"none"}


# -- re-run ------------------------------------------------------------------------


def test_rerun_is_for_leads(client, login, site, session_factory, db) -> None:
    project, task = site
    Worker(session_factory, echo_runner, concurrency=2, until_idle=True).run()
    c, headers = login_with_token(login, "ann")
    resp = c.post("/p/w/t/t0/rerun", headers=headers, json={})
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"
    c.post("/logout", data={"csrf_token": headers["X-CSRFToken"]})

    c, headers = login_with_token(login, "lead1")
    no_token = c.post("/p/w/t/t0/rerun", json={})
    assert no_token.status_code == 400 and no_token.get_json()["error"]["code"] == "csrf"
    resp = c.post("/p/w/t/t0/rerun", headers=headers, json={"candidate_id": task.candidates[0].id})
    assert resp.status_code == 202 and resp.get_json() == {"queued": 1, "pending": True}
    body = c.get("/p/w/t/t0/runs.json").get_json()
    assert body["pending"] is True
    assert body["runs"][str(task.candidates[0].id)]["state"] == "queued"
    assert body["runs"][str(task.candidates[1].id)]["state"] == "done"
    other_task = db.scalars(select(Task).where(Task.project_id == project.id, Task.external_id == "t1")).one()
    wrong = c.post("/p/w/t/t0/rerun", headers=headers, json={"candidate_id": other_task.candidates[0].id})
    assert wrong.status_code == 404
    assert c.post("/p/w/t/t0/rerun", headers=headers, json={}).get_json()["queued"] == 1
    assert db.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "runs.rerun")) == 2


def test_rerun_needs_membership(client, login, site) -> None:
    c, headers = login_with_token(login, "lead2")
    assert c.post("/p/w/t/t0/rerun", headers=headers, json={}).status_code == 404


def test_admin_may_rerun(client, login, site) -> None:
    c, headers = login_with_token(login, "root")
    assert c.post("/p/w/t/t0/rerun", headers=headers, json={}).status_code == 202


# -- probes ------------------------------------------------------------------------

PROBE = "from solution import add\n\n\ndef test_negatives():\n    assert add(-1, -1) == -2\n"


class RecordingRunner:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], dict[str, str], Limits]] = []

    def __call__(self, files: Mapping[str, str], tests: Mapping[str, str], limits: Limits,
                 **_: object) -> RunResult:
        self.calls.append((dict(files), dict(tests), limits))
        return echo_runner(files, tests, limits)


def test_probe_runs_against_every_candidate(app, client, login, site, db) -> None:
    project, task = site
    runner = RecordingRunner()
    use_executor(app, runner)
    a = assign(db, project, task, "ann")
    c, headers = login_with_token(login, "ann")
    resp = c.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": PROBE})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    results = body["results"]
    assert sorted(results) == sorted(str(c.id) for c in task.candidates)
    assert results[str(task.candidates[0].id)]["status"] == "passed"
    assert results[str(task.candidates[1].id)]["status"] == "failed"
    assert len(runner.calls) == 2
    files, tests, limits = runner.calls[0]
    assert tests == {"test_probe.py": PROBE}  # only the probe is collected
    assert limits == runqueue.limits_for(project.sandbox_limits)
    stored = db.get(ProbeTest, body["id"])
    assert stored is not None and stored.assignment_id == a.id and stored.source == PROBE
    assert set(stored.results) == set(results)
    listed = c.get(f"/p/w/a/{a.id}/probes").get_json()["probes"]
    assert [p["id"] for p in listed] == [body["id"]] and listed[0]["results"] == results
    assert listed[0]["pending"] is False


def test_probe_errors(app, client, login, site, db) -> None:
    project, task = site
    use_executor(app, echo_runner)
    mine = assign(db, project, task, "ann")
    theirs = assign(db, project, task, "ann2")
    c, headers = login_with_token(login, "ann")
    url = f"/p/w/a/{mine.id}/probe"
    bad = c.post(url, headers=headers, json={"source": "def test_x(:\n    pass\n"})
    assert bad.status_code == 400
    err = bad.get_json()["error"]
    assert err["code"] == "invalid_source" and "line 1" in err["message"]
    no_test = c.post(url, headers=headers, json={"source": "x = 1\n"})
    assert no_test.status_code == 400 and "no test" in no_test.get_json()["error"]["message"]
    big = c.post(url, headers=headers, json={"source": "def test_x():\n    pass\n" + "#" * 21000})
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"
    assert c.post(url, headers=headers, json={"code": PROBE}).status_code == 400
    assert c.post(url, json={"source": PROBE}).get_json()["error"]["code"] == "csrf"
    assert c.post(f"/p/w/a/{theirs.id}/probe", headers=headers, json={"source": PROBE}).status_code == 404
    assert c.get(f"/p/w/a/{theirs.id}/probes").status_code == 404
    assert db.scalar(select(func.count(ProbeTest.id))) == 0


def test_a_probe_with_a_lone_surrogate_is_a_named_error(app, login, site, db) -> None:
    """JSON's "\\ud800" escape gives a str no UTF-8 holds: ast.parse raised on it (a 500)."""
    project, task = site
    use_executor(app, echo_runner)
    mine = assign(db, project, task, "ann")
    c, headers = login_with_token(login, "ann")
    body = '{"source": "def test_x():\\n    assert \\"\\ud800\\"\\n"}'
    resp = c.post(f"/p/w/a/{mine.id}/probe", data=body,
                  headers=headers | {"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "invalid_source"
    assert "surrogate" in resp.get_json()["error"]["message"]
    assert db.scalar(select(func.count(ProbeTest.id))) == 0


def test_probe_rate_limit_per_user(app, client, login, site, db) -> None:
    project, task = site
    use_executor(app, echo_runner)
    a = assign(db, project, task, "ann")
    c, headers = login_with_token(login, "ann")
    for _ in range(10):
        assert c.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": PROBE}).status_code == 200
    limited = c.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": PROBE})
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 301
    assert db.scalar(select(func.count(ProbeTest.id))) == 10
    # another annotator has a budget of their own
    b = assign(db, project, task, "ann2")
    c.post("/logout", data={"csrf_token": headers["X-CSRFToken"]})
    c2, headers2 = login_with_token(login, "ann2")
    assert c2.post(f"/p/w/a/{b.id}/probe", headers=headers2, json={"source": PROBE}).status_code == 200


def test_probe_sandbox_failure_is_a_result(app, client, login, site, db) -> None:
    project, task = site

    def broken(files, tests, limits, **_):  # type: ignore[no-untyped-def]
        raise RuntimeError("no sandbox")

    use_executor(app, broken)
    a = assign(db, project, task, "ann")
    c, headers = login_with_token(login, "ann")
    body = c.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": PROBE}).get_json()
    assert {r["status"] for r in body["results"].values()} == {"sandbox_error"}


def test_concurrent_probes_hold_the_rate_limit(app, site, db, monkeypatch) -> None:
    """25 probes at once from one annotator: the slot is reserved before the sandbox runs,
    so exactly RATE_LIMIT run and are stored, and the rest are refused."""
    project, task = site
    monkeypatch.setenv("ECHO_RUNNER_SLEEP", "0.2")
    use_executor(app, slow_echo_runner)
    app.extensions["harness.probe_slots"] = probes.ProbeSlots(25)  # the server bound: below
    a = assign(db, project, task, "ann")
    clients = [logged_in(app, "ann") for _ in range(25)]
    start = threading.Barrier(len(clients))

    def post(client_headers: tuple[FlaskClient, dict[str, str]]) -> int:
        client, headers = client_headers
        start.wait(timeout=30)
        resp = client.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": PROBE})
        return resp.status_code

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        statuses = list(pool.map(post, clients))
    assert statuses.count(200) == probes.RATE_LIMIT, statuses
    assert set(statuses) <= {200, 429, 503}, statuses
    assert probe_count(db) == probes.RATE_LIMIT
    stored = db.scalars(select(ProbeTest)).all()
    assert all(len(p.results) == len(task.candidates) for p in stored)  # none left pending


def test_probes_beyond_the_servers_bound_get_503(app, site, db) -> None:
    """A full server refuses a probe with 503 and Retry-After instead of queueing it, and
    the refused probe costs the annotator nothing."""
    project, task = site
    started, release = threading.Event(), threading.Event()

    def held(files, tests, limits, **_):  # type: ignore[no-untyped-def]
        started.set()
        release.wait(timeout=30)
        return echo_runner(files, tests, limits)

    use_executor(app, held)
    app.extensions["harness.probe_slots"] = probes.ProbeSlots(1)
    a, b = assign(db, project, task, "ann"), assign(db, project, task, "ann2")
    ann, ann_headers = logged_in(app, "ann")
    ann2, ann2_headers = logged_in(app, "ann2")
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(ann.post, f"/p/w/a/{a.id}/probe", headers=ann_headers,
                              json={"source": PROBE})
        try:
            assert started.wait(timeout=30)
            busy = ann2.post(f"/p/w/a/{b.id}/probe", headers=ann2_headers, json={"source": PROBE})
        finally:
            release.set()
        assert running.result(timeout=30).status_code == 200
    assert busy.status_code == 503
    assert busy.get_json()["error"]["code"] == "busy"
    assert int(busy.headers["Retry-After"]) >= 1
    assert probe_count(db) == 1
    again = ann2.post(f"/p/w/a/{b.id}/probe", headers=ann2_headers, json={"source": PROBE})
    assert again.status_code == 200
    assert probe_count(db) == 2


@pytest.mark.parametrize(("state", "lease"), [
    ("submitted", None), ("skipped", None), ("expired", -1), ("active", -1),
])
def test_probe_needs_an_active_assignment(app, site, db, state, lease) -> None:
    """Probes belong to work in progress: a submitted, skipped or expired assignment (or an
    active one whose lease ran out) gets a 409 that says why, and nothing runs."""
    project, task = site
    runner = RecordingRunner()
    use_executor(app, runner)
    a = assign(db, project, task, "ann")
    a.state = state
    a.lease_expires_at = None if lease is None else utcnow() + timedelta(minutes=lease)
    db.commit()
    c, headers = logged_in(app, "ann")
    resp = c.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": PROBE})
    assert resp.status_code == 409
    err = resp.get_json()["error"]
    assert err["code"] == "not_active" and (state if lease is None else "expired") in err["message"]
    assert runner.calls == [] and probe_count(db) == 0


def test_probe_output_is_trimmed_for_storage(app, site, db) -> None:
    """Each stored stream keeps at most 16 KiB (whole UTF-8 characters) and says it was cut."""
    project, task = site

    def loud(files, tests, limits, **_):  # type: ignore[no-untyped-def]
        return dataclasses.replace(echo_runner(files, tests, limits),
                                   stdout="x" * 100_000, stderr="é" * 50_000)

    use_executor(app, loud)
    a = assign(db, project, task, "ann")
    c, headers = logged_in(app, "ann")
    body = c.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": PROBE}).get_json()
    db.expire_all()
    stored = db.get(ProbeTest, body["id"])
    assert stored is not None
    for result in (*stored.results.values(), *body["results"].values()):
        assert result["stdout"] == "x" * probes.MAX_STORED_OUTPUT and result["stdout_truncated"]
        assert result["stderr"] == "é" * (probes.MAX_STORED_OUTPUT // 2)
        assert result["stderr_truncated"]
    assert probes.MAX_STORED_OUTPUT == 16 * 1024


@pytest.mark.bwrap
def test_probe_in_the_real_sandbox(app, client, login, site, db) -> None:
    require_backend("bwrap")
    project, task = site
    use_executor(app, runqueue.sandbox_executor(dataclasses.replace(
        app_settings(app), sandbox_backend="bwrap", sandbox_dir=sandbox_dir())))
    a = assign(db, project, task, "ann")
    c, headers = login_with_token(login, "ann")
    probe = PROBE + "\n\ndef test_prints():\n    print('<b>hi</b>')\n    assert False\n"
    body = c.post(f"/p/w/a/{a.id}/probe", headers=headers, json={"source": probe}).get_json()
    good, bad = (body["results"][str(cand.id)] for cand in task.candidates)
    assert good["status"] == "failed" and bad["status"] == "failed"
    outcomes = {t["name"].split("::")[-1]: t["outcome"] for t in good["tests"]}
    assert outcomes == {"test_negatives": "passed", "test_prints": "failed"}
    assert {t["name"].split("::")[-1]: t["outcome"] for t in bad["tests"]}["test_negatives"] == "failed"
    assert good["isolation"] in ("full", "degraded") and good["backend"] == "bwrap"



# -- the server's in-process worker --------------------------------------------------


def test_inprocess_worker_processes_the_queue(app, site, db, monkeypatch) -> None:
    import time

    from web.runs import start_worker

    settings = app_settings(app)
    app.extensions["harness.settings"] = dataclasses.replace(settings, inprocess_worker=False)
    assert start_worker(app) is None
    app.extensions["harness.settings"] = settings
    use_executor(app, echo_runner)
    worker = start_worker(app)
    assert worker is not None and worker.id.endswith(":serve")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.expire_all()
            if runqueue.project_counts(db, site[0])["done"] == 4:
                break
            time.sleep(0.05)
        assert runqueue.project_counts(db, site[0])["done"] == 4
    finally:
        worker.stop()

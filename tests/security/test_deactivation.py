"""Offboarding: `harness user deactivate`, `activate`, `role` and `list`, run as an admin
runs them (the real command, against the test's database), checked from the web app and
the lab API as the user and their colleagues see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from, task_line, write_jsonl
from sqlalchemy import select

from harness import accounts
from harness.models import Assignment, AuditEvent, User

HARNESS = str(Path(sys.executable).parent / "harness")


def harness(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_DATA_DIR": str(settings.data_dir),
           "DATABASE_URL": settings.database_url}
    return subprocess.run([HARNESS, *args], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def logged_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def claim(client: FlaskClient, slug: str) -> str:
    """The review page's path of the task claimed, or "" when none is left."""
    token = csrf_from(client.get(f"/p/{slug}/queue").get_data(as_text=True))
    resp = client.post(f"/p/{slug}/queue", data={"csrf_token": token})
    if resp.status_code == 200:  # the queue page again: nothing to claim
        assert "/a/" not in resp.headers.get("Location", "")
        return ""
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return str(resp.headers["Location"])


def test_a_deactivated_annotator_is_out_and_their_task_goes_to_the_next(
        app, db, settings, make_project, make_user, import_file, tmp_path) -> None:
    project = make_project("p", overlap=1)
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("only")]))
    make_user("ann", projects=["p"])
    make_user("bob", projects=["p"])
    ann, bob = logged_in(app, "ann"), logged_in(app, "bob")
    page = claim(ann, "p")
    assert page and not claim(bob, "p")  # k = 1: ann holds the only task
    draft = ann.post(page + "/draft", json={"draft": None, "active_seconds": 3},
                     headers={"X-CSRFToken": csrf_from(ann.get(page).get_data(as_text=True))})
    assert draft.status_code == 200, draft.get_data(as_text=True)

    done = harness(settings, "user", "deactivate", "ann")
    assert done.returncode == 0, done.stderr
    assert "ann deactivated" in done.stdout and "1 task(s)" in done.stdout

    resp = ann.get(page)  # the session is over at once ...
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    token = csrf_from(ann.get("/login").get_data(as_text=True))
    resp = ann.post("/login", data={"name": "ann", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 401  # ... and the right password is refused
    db.expire_all()
    held = db.scalars(select(Assignment).join(User).where(User.name == "ann")).one()
    assert held.state == "expired" and held.active_seconds >= 3  # the time worked is kept
    assert claim(bob, "p")  # the task was handed back: bob gets it now, not at lease end
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.deactivate")).one()
    assert event.details["released"] == 1

    again = harness(settings, "user", "deactivate", "ann")
    assert again.returncode == 1 and "already deactivated" in again.stderr
    assert harness(settings, "user", "activate", "ann").returncode == 0
    assert ann.get("/").status_code == 302  # an old session does not come back ...
    assert logged_in(app, "ann").get("/").status_code == 200  # ... a new login works


def test_a_deactivated_lab_users_tokens_are_refused_until_activated(
        app, db, settings, make_project, make_user) -> None:
    make_project("p")
    lab = make_user("lab1", role="lab", projects=["p"])
    _, secret = accounts.create_token(db, lab, [accounts.project_by_slug(db, "p")])
    db.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/projects", headers=headers).status_code == 200
    assert harness(settings, "user", "deactivate", "lab1").returncode == 0
    resp = api.get("/api/v1/projects", headers=headers)
    assert resp.status_code == 401 and resp.get_json()["error"]["message"]
    assert harness(settings, "user", "activate", "lab1").returncode == 0
    assert api.get("/api/v1/projects", headers=headers).status_code == 200


def test_a_role_change_applies_on_the_next_request(app, settings, make_project, make_user) -> None:
    make_project("p")
    make_user("lea", role="lead", projects=["p"])
    lead = logged_in(app, "lea")
    assert lead.get("/p/p/settings").status_code == 200
    done = harness(settings, "user", "role", "lea", "annotator")
    assert done.returncode == 0 and "the role of lea is now annotator" in done.stdout
    assert lead.get("/p/p/settings").status_code == 403
    refused = harness(settings, "user", "role", "lea", "boss")
    assert refused.returncode == 2 and "boss" in refused.stderr


def test_user_list_names_roles_states_and_projects(settings, make_project, make_user) -> None:
    empty = harness(settings, "user", "list")
    assert empty.returncode == 0 and empty.stdout == "" and "no users yet" in empty.stderr
    make_project("alpha")
    make_project("beta")
    make_user("zed", projects=["beta", "alpha"])
    make_user("amy", role="lead")
    assert harness(settings, "user", "deactivate", "zed").returncode == 0
    listed = harness(settings, "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line) for line in listed.stdout.splitlines()] == [
        {"name": "amy", "role": "lead", "active": True, "projects": []},
        {"name": "zed", "role": "annotator", "active": False, "projects": ["alpha", "beta"]},
    ]
    table = harness(settings, "user", "list").stdout.splitlines()
    assert table == ["amy\tlead\tactive\t-", "zed\tannotator\tdeactivated\talpha,beta"]

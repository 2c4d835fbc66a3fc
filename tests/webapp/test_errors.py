"""One error contract: JSON requests get the one JSON shape, browsers get a page with
the site's header, navigation and a way back; a refused request changes nothing."""

from __future__ import annotations

import re

import pytest
from helpers import csrf_from, task_line, write_jsonl
from sqlalchemy import func, select

from harness import assignments
from harness.errors import Conflict
from harness.models import AuditEvent


@pytest.fixture
def project(make_project, make_user, import_file, tmp_path):  # type: ignore[no-untyped-def]
    project = make_project("e")
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1")]))
    make_user("ann", projects=["e"])
    make_user("boss", role="lead", projects=["e"])
    return project


def _is_page(html: str) -> bool:
    """The site's header and navigation, and a way back."""
    return ('class="topbar"' in html and 'class="brand"' in html
            and "Your projects" in html and "Go back" in html)


def test_unknown_page_is_a_page_with_the_header_and_a_way_back(client, login, project) -> None:
    login("ann")
    resp = client.get("/p/e/nothing-here")
    assert resp.status_code == 404
    assert _is_page(resp.get_data(as_text=True))


def test_object_outside_the_users_reach_is_404_page_or_json(client, login, project) -> None:
    login("ann")
    page = client.get("/p/nope/queue")
    assert page.status_code == 404 and _is_page(page.get_data(as_text=True))
    as_json = client.get("/p/nope/queue", headers={"Accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.get_json() == {"error": {"code": "not_found", "field": "",
                                            "message": "no such project of yours"}}


def test_json_post_to_a_missing_assignment_gets_json_not_html(client, login, project) -> None:
    login("ann")
    token = csrf_from(client.get("/queue").get_data(as_text=True))
    resp = client.post("/p/e/a/999/draft", json={"draft": {}}, headers={"X-CSRFToken": token})
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    unknown = client.post("/p/e/a/999/nothing", json={}, headers={"X-CSRFToken": token})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"


def test_an_id_no_database_can_hold_is_a_404_not_a_500(client, login, project) -> None:
    """30 digits in an id, or one past PostgreSQL's integer: the drivers refuse them with
    an overflow error."""
    login("ann")
    token = csrf_from(client.get("/queue").get_data(as_text=True))
    huge = "9" * 30
    assert client.get(f"/p/e/a/{huge}").status_code == 404
    assert client.get(f"/p/e/a/{2**63}").status_code == 404
    assert client.get(f"/p/e/a/{2**31}").status_code == 404
    resp = client.post(f"/p/e/a/{huge}/draft", json={"draft": {}},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/p/e/a/{2**31 - 1}").status_code == 404  # the largest: no such one
    lead = login("boss")
    assert lead.get(f"/p/e/?page={huge}").status_code == 200  # past the last page: empty
    token = csrf_from(lead.get("/projects/new").get_data(as_text=True))
    for chosen in (huge, "\u00b2"):
        resp = lead.post("/projects/new", data={"csrf_token": token, "name": "N", "slug": "n",
                                                "rubric_id": chosen})
        assert resp.status_code == 422, (chosen, resp.status_code)


def test_wrong_role_page_says_why(client, login, project) -> None:
    login("ann")
    resp = client.get("/p/e/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403 and _is_page(html)
    assert "for the lead role" in html and "annotator" in html


def test_conflict_page_and_nothing_changed(client, login, project, db) -> None:
    """Skipping a submitted task is a 409 with the reason; no audit event is written."""
    user = db.scalar(select(assignments.User).where(assignments.User.name == "ann"))
    held = assignments.claim_next(db, user.id, project).assignment
    held.state = "submitted"
    db.commit()
    login("ann")
    token = csrf_from(client.get("/queue").get_data(as_text=True))
    before = db.scalar(select(func.count(AuditEvent.id)))
    resp = client.post(f"/p/e/a/{held.id}/skip", data={"csrf_token": token, "reason": "late"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and _is_page(html)
    assert "a submitted task cannot be skipped" in html
    db.expire_all()
    assert db.scalar(select(func.count(AuditEvent.id))) == before
    assert db.get(type(held), held.id).state == "submitted"


def test_service_error_in_the_middle_of_a_request_rolls_back_its_writes(
    app, client, login, project, db
) -> None:
    """The commit point: writes made before the error are not committed."""
    from web.extensions import db as web_db

    def half_done() -> str:
        from harness import audit

        audit.record(web_db.session, "test.half_done")
        web_db.session.flush()
        raise Conflict("changed", "somebody else changed it")

    app.add_url_rule("/test-half-done", "half_done", half_done)
    login("boss")
    resp = client.get("/test-half-done", headers={"Accept": "application/json"})
    assert resp.status_code == 409
    assert resp.get_json() == {"error": {"code": "changed", "field": "",
                                         "message": "somebody else changed it"}}
    assert db.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "test.half_done")) == 0


def test_unexpected_failure_is_a_500_page_without_internals(app, client, login, project) -> None:
    def broken() -> str:
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/test-broken", "broken", broken)
    login("boss")
    resp = client.get("/test-broken")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 500 and _is_page(html)
    assert "secret internal detail" not in html
    as_json = client.get("/test-broken", headers={"Accept": "application/json"})
    assert as_json.status_code == 500 and as_json.get_json()["error"]["code"] == "internal"


def test_stale_csrf_on_a_form_is_a_page_and_on_json_is_json(client, login, project) -> None:
    login("ann")
    page = client.post("/logout", data={})
    assert page.status_code == 400 and _is_page(page.get_data(as_text=True))
    assert "reload the page" in page.get_data(as_text=True)
    as_json = client.post("/p/e/a/1/draft", json={"draft": {}})
    assert as_json.status_code == 400 and as_json.get_json()["error"]["code"] == "csrf"


def test_rate_limit_says_when_to_come_back(client, login, project, db, app) -> None:
    from harness import probes

    user = db.scalar(select(assignments.User).where(assignments.User.name == "ann"))
    held = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    app.extensions["harness.probe_slots"] = probes.ProbeSlots(1)
    login("ann")
    token = csrf_from(client.get(f"/p/e/a/{held.id}").get_data(as_text=True))
    source = "def test_x():\n    assert True\n"
    for _ in range(probes.RATE_LIMIT):
        probes.reserve_probe(db, held, source)
    db.commit()
    resp = client.post(f"/p/e/a/{held.id}/probe", json={"source": source},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "rate_limited"
    assert re.fullmatch(r"\d+", resp.headers["Retry-After"])

"""Forged requests and data: each is refused with a 4xx that names its field, and
nothing of it is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from helpers import csrf_from, task_line, write_jsonl

from harness import annotate, assignments
from harness.annotate.common import CLOCK_SLACK
from harness.models import Annotation, Assignment


@pytest.fixture
def held(db, make_project, make_user, import_file, tmp_path):  # type: ignore[no-untyped-def]
    """A project with one task, an annotator holding it, and the CSRF header of the
    annotator's logged-in client."""
    project = make_project("w")
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1")]))
    user = make_user("ann", projects=["w"])
    assignment = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    return assignment


def page_token(client: Any, url: str) -> dict[str, str]:
    html = client.get(url).get_data(as_text=True)
    return {"X-CSRFToken": csrf_from(html.replace('name="csrf-token" content=',
                                                  'name="csrf_token" value='))}


def payload(ids: list[int], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "findings": [{"candidate_id": ids[0], "file_path": "solution.py", "line_start": 1,
                      "line_end": 2, "category": "bug", "severity": "medium",
                      "comment": "off by one"}],
        "scores": {str(c): {"correctness": 4, "security": 3, "efficiency": 4,
                            "readability": 4} for c in ids},
        "ranking": [[c] for c in ids],
        "rationale": "The first one is clearly better than the other one.",
        "confidence": 4,
    }
    return body | overrides


SUPERSCRIPT_THREE = "\u00b3"  # str.isdigit() says yes; int() raises
ARABIC_THREE = "\u0663"  # int() reads it as 3
HUGE = "9" * 5000  # more digits than int() converts from a string


def forged(ids: list[int]) -> dict[str, dict[str, Any]]:
    """Numbers sent as text that no page sends, in each place a number is read."""
    first = payload(ids)["findings"][0]
    return {
        f"scores.{ids[0]}.correctness": payload(ids, scores={
            str(ids[0]): {"correctness": SUPERSCRIPT_THREE}}),
        f"scores.{ids[1]}.correctness": payload(ids, scores={
            str(ids[1]): {"correctness": ARABIC_THREE}}),
        "findings.0.line_start": payload(ids, findings=[{**first, "line_start": HUGE}]),
        "findings.0.candidate_id": payload(ids, findings=[
            {**first, "candidate_id": SUPERSCRIPT_THREE}]),
        "ranking": payload(ids, ranking=[[SUPERSCRIPT_THREE], ids]),
        f"hint_verdicts.{SUPERSCRIPT_THREE}": payload(ids, hint_verdicts={
            SUPERSCRIPT_THREE: {"k": "confirmed"}}),
    }


@pytest.mark.parametrize("endpoint", ["draft", "submit"])
def test_numbers_forged_as_unicode_or_huge_text_are_named_errors(
        client, login, db, held, endpoint) -> None:
    """A score, line, candidate id or rank sent as "³", "٣" or 5000 digits: a 4xx naming
    the field (it was a 500), and the saved draft and annotations stay as they were."""
    login("ann")
    url = f"/p/w/a/{held.id}"
    headers = page_token(client, url)
    saved = {"rationale": "what I had"}
    assert client.post(f"{url}/draft", json={"draft": saved}, headers=headers).status_code == 200
    for field, draft in forged(held.display_order).items():
        resp = client.post(f"{url}/{endpoint}", json={"draft": draft}, headers=headers)
        assert resp.status_code in (400, 422), (field, resp.status_code)
        body = resp.get_json()
        named = body["error"]["field"] if "error" in body else body["errors"][0]["field"]
        assert named == field
    db.expire_all()
    assert db.get(Assignment, held.id).draft == saved
    assert db.query(Annotation).count() == 0


@pytest.mark.parametrize("revision", [10**23, 2**31, -1])
def test_a_forged_revision_is_a_named_error(client, login, db, held, revision) -> None:
    """The page sends the draft revision its state is based on; a number no INTEGER
    column holds was the driver's overflow (a 500)."""
    login("ann")
    url = f"/p/w/a/{held.id}"
    headers = page_token(client, url)
    resp = client.post(f"{url}/draft", json={"draft": {"rationale": "forged"},
                                             "revision": revision}, headers=headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == "revision"
    db.expire_all()
    assert db.get(Assignment, held.id).draft_revision == 0


def test_saves_racing_cannot_each_claim_the_same_idle_time(db, held, session_factory) -> None:
    """Active time is bounded by the time since the last contact. A forged client that
    sends several saves at once, each claiming all of ten idle minutes, had each read
    the same last contact before any committed, and each was added: paid time twice
    the wall time. The second save here read the assignment before the first committed."""
    project = held.project
    before = held.active_seconds or 0.0
    idle = (held.draft_saved_at or held.created_at) + timedelta(minutes=10)
    with session_factory() as other:
        first = other.get(Assignment, held.id)
        annotate.save_draft(other, first, project, {"rationale": "one"}, active_seconds=600,
                            page="p", now=idle)
        other.commit()
    annotate.save_draft(db, held, project, {"rationale": "two"}, active_seconds=600,
                        page="p", now=idle + timedelta(seconds=1))
    db.commit()
    db.expire_all()
    added = db.get(Assignment, held.id).active_seconds - before
    assert added <= 600 + 1 + CLOCK_SLACK, added
    assert db.get(Assignment, held.id).draft == {"rationale": "two"}


@pytest.mark.parametrize("endpoint", ["draft", "submit"])
def test_non_finite_numbers_and_lone_surrogates_are_refused_and_nothing_is_stored(
        client, login, db, held, endpoint) -> None:
    """JSON escapes and Python's parser let a forged body carry NaN, Infinity and lone
    surrogates where no check looks (a score of a candidate not shown, a finding's extra
    key) or in the rationale: PostgreSQL refused the draft's NaN (a 500) and a version's
    record could not be encoded (a 500 at submit, after the draft was saved)."""
    login("ann")
    url = f"/p/w/a/{held.id}"
    headers = page_token(client, url) | {"Content-Type": "application/json"}
    saved = {"rationale": "ünïcödé is fine 🙂"}
    assert client.post(f"{url}/draft", json={"draft": saved},
                       headers=headers).status_code == 200
    ids = held.display_order
    finding = payload(ids)["findings"][0]

    def raw(draft: dict[str, Any]) -> str:
        """The body as JSON, with each "@name" string as the bare token or escape."""
        text = json.dumps({"draft": draft})
        for name, token in (("NaN", "NaN"), ("Inf", "Infinity"), ("-Inf", "-Infinity"),
                            ("surrogate", '"\\ud800"'), ("low", '"x \\udfff y"')):
            text = text.replace(f'"@{name}"', token)
        return text

    bodies = [
        raw({"scores": {"999999": "@NaN"}}),
        raw({"scores": {str(ids[0]): {"unknown": "@Inf"}}}),
        raw({"findings": [{**finding, "x": "@-Inf"}]}),
        raw({"findings": [{**finding, "comment": "@surrogate"}]}),
        raw(payload(ids, rationale="@low")),
    ]
    for body in bodies:
        resp = client.post(f"{url}/{endpoint}", data=body, headers=headers)
        assert resp.status_code == 400, (body, resp.status_code)
        assert resp.get_json()["error"]["field"] == "draft"
        assert "finite" in resp.get_json()["error"]["message"]
    db.expire_all()
    assert db.get(Assignment, held.id).draft == saved
    assert db.query(Annotation).count() == 0


def test_a_nul_in_an_address_query_or_form_is_a_400_and_changes_nothing(
        app, client, db, held, make_user) -> None:
    """PostgreSQL takes no NUL in text, not even as a query's parameter: a login name,
    a skip reason, a member's name or a slug carrying one was a 500 there."""
    from helpers import logged_in

    make_user("lead1", role="lead", projects=["w"])
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"name": "an\x00n", "password": "x" * 12,
                                       "csrf_token": csrf_from(page)})
    assert resp.status_code == 400 and "NUL" in resp.get_data(as_text=True)
    assert client.get("/login?next=/\x00").status_code == 400
    ann, headers = logged_in(app, "ann")
    resp = ann.post(f"/p/w/a/{held.id}/skip", data={"reason": "bo\x00red",
                                                    "csrf_token": headers["X-CSRFToken"]})
    assert resp.status_code == 400
    lead, headers = logged_in(app, "lead1")
    resp = lead.post("/p/w/members", data={"name": "x\x00y",
                                           "csrf_token": headers["X-CSRFToken"]})
    assert resp.status_code == 400 and "name: may not contain NUL" in resp.get_data(as_text=True)
    assert lead.get("/p/w\x00x/").status_code == 400
    db.expire_all()
    assert db.get(Assignment, held.id).state == "active"

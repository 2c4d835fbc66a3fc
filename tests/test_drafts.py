"""Draft revisions (two pages on one task), draft validation by the submission's rules,
idempotent submits, and the warning that weighs findings against test results."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from helpers import csrf_from
from sqlalchemy import func, select
from test_annotate import full_payload, submit

from harness import annotate, assignments, leases
from harness.annotate.common import MAX_COMMENT
from harness.errors import Conflict, InvalidInput
from harness.models import Annotation, Assignment, TestRun, User, utcnow
from harness.runs import dedup_key, image_tag, limits_for

pytest_plugins = ["test_annotate"]  # the `work` fixture: a 3-candidate task held by "ann"


def _page(client, login, assignment):  # type: ignore[no-untyped-def]
    login("ann")
    url = f"/p/w/a/{assignment.id}"
    html = client.get(url).get_data(as_text=True)
    token = csrf_from(html.replace('name="csrf-token" content=', 'name="csrf_token" value='))
    return url, {"X-CSRFToken": token}


def test_a_stale_revision_is_refused_with_409_and_changes_nothing(client, login, db, work) -> None:
    _, assignment, _ = work
    url, headers = _page(client, login, assignment)
    first = client.post(f"{url}/draft", json={"draft": {"rationale": "tab one"}, "revision": 0,
                                              "page": "tab-1"}, headers=headers)
    assert first.status_code == 200 and first.get_json()["revision"] == 1
    # the second tab loaded revision 0 too, and saves after the first tab did
    stale = client.post(f"{url}/draft", json={"draft": {"rationale": "tab two"}, "revision": 0,
                                              "page": "tab-2"}, headers=headers)
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "stale_draft" and "another tab" in error["message"]
    db.refresh(assignment)
    assert assignment.draft == {"rationale": "tab one"} and assignment.draft_revision == 1
    # a heartbeat of the stale tab learns it is stale; the first tab's does not
    beat = client.post(f"{url}/draft", json={"draft": None, "revision": 0, "page": "tab-2"},
                       headers=headers).get_json()
    assert beat["stale"] is True
    beat = client.post(f"{url}/draft", json={"draft": None, "revision": 1, "page": "tab-1"},
                       headers=headers).get_json()
    assert beat["stale"] is False
    # the first tab's own save still in flight (based on 0) does not make it stale
    again = client.post(f"{url}/draft", json={"draft": {"rationale": "tab one, more"},
                                              "revision": 0, "page": "tab-1"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["revision"] == 2
    # the stale tab's submit and its unload beacon are refused the same way
    resp = client.post(f"{url}/submit", json={"draft": full_payload(assignment), "revision": 0,
                                              "page": "tab-2"}, headers=headers)
    assert resp.status_code == 409
    import json
    beacon = client.post(f"{url}/draft", data={
        "csrf_token": headers["X-CSRFToken"],
        "payload": json.dumps({"draft": {"rationale": "beacon"}, "revision": 1, "page": "tab-2"})})
    assert beacon.status_code == 409
    db.refresh(assignment)
    assert assignment.draft == {"rationale": "tab one, more"}
    assert db.scalar(select(func.count(Annotation.id))) == 0


def test_a_body_nested_thousands_deep_is_a_400_and_changes_nothing(client, login, db,
                                                                    work) -> None:
    _, assignment, _ = work
    url, headers = _page(client, login, assignment)
    deep = '{"draft": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    resp = client.post(f"{url}/draft", data=deep, content_type="application/json",
                       headers=headers)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_request"
    beacon = client.post(f"{url}/draft", data={"csrf_token": headers["X-CSRFToken"],
                                               "payload": deep})
    assert beacon.status_code == 400
    db.refresh(assignment)
    assert assignment.draft_revision == 0


def test_service_refuses_a_stale_revision(db, work) -> None:
    project, assignment, _ = work
    annotate.save_draft(db, assignment, project, {"rationale": "a"}, revision=0, page="p1")
    with pytest.raises(Conflict) as info:
        annotate.save_draft(db, assignment, project, {"rationale": "b"}, revision=0, page="p2")
    assert info.value.code == "stale_draft"


def test_a_save_after_the_lease_ran_out_revives_it_while_its_slot_is_free(db, work) -> None:
    """The one-statement save applies only to a running lease; a lease that ran out, not yet
    expired by a claim, is revived by the slower path and the draft is stored with it."""
    project, assignment, _ = work
    later = utcnow() + timedelta(hours=2)  # past the lease; no claim has expired it
    assert assignment.state == "active" and assignment.lease_expires_at < later
    annotate.save_draft(db, assignment, project, {"rationale": "back"}, revision=0, page="p",
                        now=later)
    db.commit()
    db.expire_all()
    assert assignment.state == "active" and assignment.lease_expires_at > later
    assert assignment.draft == {"rationale": "back"} and assignment.draft_revision == 1


def test_a_save_from_a_stale_copy_of_a_lapsed_assignment_writes_nothing(
        db, work, session_factory, make_user) -> None:  # type: ignore[no-untyped-def]
    """The request read the assignment as active; meanwhile its lease was expired and the task
    given to others up to k. The save must not extend it from the stale copy (the task would
    be held by k + 1): it is refused and the row is as the others left it."""
    project, assignment, _ = work
    assert assignment.state == "active"  # the stale copy, read before the others' claims
    later = utcnow() + timedelta(hours=2)
    make_user("cy", projects=["w"])
    with session_factory() as other:
        leases.expire_leases(other, later)
        for name in ("ben", "cy"):  # k = 2: the task is full again
            user = other.scalars(select(User).where(User.name == name)).one()
            assert assignments.claim_next(other, user.id, project, now=later).assignment
        other.commit()
    with pytest.raises(Conflict) as info:
        annotate.save_draft(db, assignment, project, {"rationale": "late"}, revision=0,
                            page="p", now=later)
    assert info.value.field == "lease"
    db.rollback()
    db.expire_all()
    assert assignment.state == "expired" and assignment.draft is None
    holding = db.scalar(select(func.count(Assignment.id)).where(
        Assignment.task_id == assignment.task_id, Assignment.state.in_(("active", "submitted"))))
    assert holding == 2


def test_active_time_of_two_saves_from_one_page_adds_up(db, work, session_factory) -> None:  # type: ignore[no-untyped-def]
    """A save reads the assignment without a lock; another save of the same page can commit
    between that read and its write (its own earlier save still in flight). The time each
    adds is added in the UPDATE, so neither is lost."""
    project, assignment, _ = work
    stale_copy_seconds = assignment.active_seconds  # read now, before the other save
    t0 = utcnow() + timedelta(minutes=1)
    with session_factory() as other:
        mine = other.get(Assignment, assignment.id)
        annotate.save_draft(other, mine, project, {"rationale": "first"}, active_seconds=5,
                            page="p", now=t0)
        other.commit()
    annotate.save_draft(db, assignment, project, {"rationale": "second"}, active_seconds=7,
                        page="p", now=t0 + timedelta(seconds=10))
    db.commit()
    db.expire_all()
    assert assignment.active_seconds == pytest.approx(stale_copy_seconds + 5 + 7)
    assert assignment.draft == {"rationale": "second"}


def test_a_draft_is_checked_and_its_warnings_read_before_anything_is_written(db, work) -> None:
    """The page's checks refuse a bad draft with the lease and revision untouched."""
    project, assignment, _ = work
    lease = assignment.lease_expires_at
    with pytest.raises(InvalidInput):
        annotate.save_draft(db, assignment, project, {"confidence": 99}, revision=0, page="p",
                            now=utcnow() + timedelta(minutes=5))
    db.rollback()
    db.expire_all()
    assert assignment.lease_expires_at == lease and assignment.draft_revision == 0


def test_drafts_are_held_to_the_submission_limits(client, login, db, work) -> None:
    """A 200k-character comment or lines past the file's end are refused at the draft too."""
    project, assignment, _ = work
    url, headers = _page(client, login, assignment)
    finding = full_payload(assignment)["findings"][0]
    too_long = {**finding, "comment": "x" * 200_000}
    resp = client.post(f"{url}/draft", json={"draft": {"findings": [too_long]}, "revision": 0},
                       headers=headers)
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["field"] == "findings.0.comment" and f"at most {MAX_COMMENT}" in error["message"]
    out_of_range = {**finding, "line_start": 1, "line_end": 999}
    resp = client.post(f"{url}/draft", json={"draft": {"findings": [out_of_range]},
                                             "revision": 0}, headers=headers)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "findings.0.line_start"
    resp = client.post(f"{url}/draft", json={"draft": {"rationale": "x" * 100_000},
                                             "revision": 0}, headers=headers)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "rationale"
    db.refresh(assignment)
    assert assignment.draft in (None, {}) and assignment.draft_revision == 0
    # at the limit it saves; incomplete (no scores, no ranking, short rationale) is fine
    at_limit = {**finding, "comment": "x" * MAX_COMMENT}
    resp = client.post(f"{url}/draft", json={"draft": {"findings": [at_limit], "rationale": "s"},
                                             "revision": 0}, headers=headers)
    assert resp.status_code == 200
    with pytest.raises(InvalidInput):
        annotate.save_draft(db, assignment, project, {"confidence": 99})


def test_an_identical_submit_creates_no_version(db, work) -> None:
    _, assignment, _ = work
    payload = full_payload(assignment)
    first = submit(db, work, payload)
    assert first.annotation is not None and not first.unchanged
    second = submit(db, work, payload)
    assert second.unchanged and second.annotation.version == 1
    changed = submit(db, work, full_payload(assignment, rationale="Changed my mind about it."))
    assert changed.annotation.version == 2 and not changed.unchanged
    assert db.scalar(select(func.count(Annotation.id))) == 2


def test_concurrent_identical_submits_make_one_version(app, client, login, db, work) -> None:
    """Five submits of the same review at once (the server side, not just the button)."""
    _, assignment, _ = work
    url, headers = _page(client, login, assignment)
    cookie = client.get_cookie("session")
    assert cookie is not None
    body = {"draft": full_payload(assignment), "acknowledge_warnings": True, "revision": 0,
            "page": "tab-1"}
    statuses: list[int] = []
    barrier = threading.Barrier(5)

    def one() -> None:
        with app.test_client() as c:
            c.set_cookie("session", cookie.value)
            barrier.wait()
            statuses.append(c.post(f"{url}/submit", json=body, headers=headers).status_code)

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 5
    db.expire_all()
    assert db.scalar(select(func.count(Annotation.id))) == 1


def test_a_passing_candidate_with_a_critical_finding_ranked_last_is_not_flagged(db, work) -> None:
    _, assignment, _ = work
    task = assignment.task
    by_id = {c.id: c for c in task.candidates}
    a, b, c = assignment.display_order
    image, limits = image_tag(), limits_for(task.project.sandbox_limits)
    for cid, status in ((a, "failed"), (b, "passed"), (c, "passed")):
        digest = by_id[cid].content_hash
        db.add(TestRun(dedup_key=dedup_key(digest, task.tests_hash, image, limits.key(), "split"),
                       generation=1, candidate_hash=digest, tests_hash=task.tests_hash,
                       image=image, state="done", status=status))
    db.commit()
    critical = {"candidate_id": b, "file_path": "solution.py", "line_start": 1, "line_end": 1,
                "category": "security", "severity": "critical", "cwe": 89, "comment": "sqli"}
    payload = full_payload(assignment, findings=[critical], ranking=[[a], [c], [b]])
    result = submit(db, work, payload)
    # C passes and carries nothing severe: flagged, and the warning names it; B is not
    assert [w.message for w in result.warnings] == [
        "Candidate A fails its tests but is ranked above candidate C, whose tests pass and "
        "which has no high or critical finding."]
    payload = full_payload(assignment, findings=[critical, {**critical, "candidate_id": c}],
                           ranking=[[a], [c], [b]])
    assert submit(db, work, payload).warnings == []


def test_concurrent_identical_service_submits_make_one_version(session_factory, db, work) -> None:
    """The service itself is safe (not only the view's revision check): two sessions submit
    the same revised review at once (a resubmit: nothing else writes first); the lock on
    the assignment makes the second see the first's version."""
    project, assignment, rubric = work
    assert submit(db, work, full_payload(assignment), acknowledge_warnings=True).annotation
    payload = full_payload(assignment, rationale="Revised after a second look at all three.")
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def one() -> None:
        from harness.models import Assignment, Project

        with session_factory() as s:
            mine = s.get(Assignment, assignment.id)
            proj = s.get(Project, project.id)
            barrier.wait()
            try:
                result = annotate.submit_annotation(s, mine, proj, rubric, payload,
                                                    acknowledge_warnings=True)
                s.commit()
                outcomes.append(result.unchanged)
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=repr) == [False, True], outcomes
    db.expire_all()
    assert db.scalars(select(Annotation.version)).all() == [1, 2]

"""Gold scoring on hand-made cases, the one-attempt assessment, automatic pause and lift."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import task_line, write_jsonl
from lead.support import annotate_task
from sqlalchemy import select

from harness import assignments
from harness.errors import Conflict
from harness.models import Project, ProjectMember, Task, User
from harness.qualification import (
    attempt_of,
    check_gold_pause,
    gold_accuracy,
    grade_qualification,
    lift_pause,
    score_against_gold,
)

GOLD = {"findings": [{"candidate": "b", "file_path": "solution.py", "line_start": 2,
                      "line_end": 2, "category": "bug"}],
        "ranking": [["a"], ["b"]]}


@dataclass
class F:
    candidate_id: int
    file_path: str
    line_start: int
    line_end: int
    category: str
    cwe: int | None = None


@pytest.fixture
def gold_project(db, make_project, make_user, import_file, tmp_path: Path):
    project = make_project("g", overlap=1)
    lines = [task_line(f"gold{i}", gold=GOLD) for i in range(3)] + [task_line("live1")]
    import_file(project, write_jsonl(tmp_path / "g.jsonl", lines))
    user = make_user("ann", projects=["g"])
    return project, user


def ids(db, external_id: str) -> tuple[Task, int, int]:
    task = db.scalars(select(Task).where(Task.external_id == external_id)).one()
    by = {c.label: c.id for c in task.candidates}
    return task, by["a"], by["b"]


def test_a_gold_finding_matched_missed_and_falsely_reported(db, gold_project) -> None:
    task, a, b = ids(db, "gold0")
    matched = score_against_gold(task, [F(b, "solution.py", 1, 2, "bug")], [[a], [b]])
    assert (matched.recall, matched.precision, matched.tau) == (1.0, 1.0, 1.0)
    assert [f.candidate_label for f in matched.matched] == ["b"] and matched.score == 1.0

    missed = score_against_gold(task, [], [[b], [a]])
    assert (missed.recall, missed.precision, missed.tau) == (0.0, 0.0, -1.0)
    assert [(f.line_start, f.category) for f in missed.missed] == [(2, "bug")]
    assert missed.score == 0.0

    # a right finding, one on the wrong category and one on the wrong candidate
    false = score_against_gold(task, [F(b, "solution.py", 2, 2, "bug"),
                                      F(b, "solution.py", 2, 2, "style"),
                                      F(a, "solution.py", 2, 2, "bug")], [[a, b]])
    assert false.recall == 1.0 and false.precision == pytest.approx(1 / 3)
    assert [(f["candidate_id"], f["category"]) for f in false.false] == [(b, "style"), (a, "bug")]
    assert false.tau is None  # a full tie orders no pair
    assert false.score == pytest.approx(2 * (1 / 3) / (1 + 1 / 3))


def _answer(db, project, user, *, right: bool):
    def build(assignment, payload):
        task = assignment.task
        by = {c.label: c.id for c in task.candidates}
        if right:
            payload["findings"] = [{"candidate_id": by["b"], "file_path": "solution.py",
                                    "line_start": 2, "line_end": 2, "category": "bug",
                                    "severity": "high", "comment": ""}]
            payload["ranking"] = [[by["a"]], [by["b"]]]
        else:
            payload["findings"] = []
            payload["ranking"] = [[by["b"]], [by["a"]]]
        return payload
    return annotate_task(db, project, user, build=build)


def test_the_assessment_comes_first_is_graded_once_and_shows_what_was_missed(
        db, gold_project) -> None:
    project, user = gold_project
    project.settings = {"qualification_tasks": ["gold1", "gold0"], "pass_mark": 0.7}
    db.commit()
    first = _answer(db, project, user, right=True)
    assert first.assignment.task.external_id == "gold1"  # the assessment, in its order
    member = db.scalars(select(ProjectMember).where(ProjectMember.user_id == user.id)).one()
    assert member.qualification == "not_required"  # not graded before the last answer
    with pytest.raises(Conflict) as unfinished:
        grade_qualification(db, project, user.id)
    assert unfinished.value.code == "unfinished"
    db.rollback()
    _answer(db, project, user, right=False)  # the last answer grades the attempt
    attempt = attempt_of(db, project, user.id)
    assert attempt is not None and attempt.score == pytest.approx(0.5) and not attempt.passed
    assert [d["missed"] for d in attempt.details] == [[], [
        {"candidate": "b", "file_path": "solution.py", "line_start": 2, "line_end": 2,
         "category": "bug"}]]
    db.refresh(member)
    assert member.qualification == "failed"
    with pytest.raises(Conflict) as again:  # one attempt
        grade_qualification(db, project, user.id)
    assert again.value.code == "one_attempt"
    db.rollback()
    assert assignments.claim_next(db, user.id, project).reason == "member_paused"


def test_passing_grants_a_tier_that_unlocks_projects_and_live_work_skips_the_assessment(
        db, gold_project, make_project, make_user, import_file, tmp_path) -> None:
    project, user = gold_project
    project.settings = {"qualification_tasks": ["gold0"], "pass_mark": 0.7,
                        "grants_tier": "security"}
    db.commit()
    secure = make_project("sec")
    secure.settings = {"tier_required": "security"}
    db.commit()
    import_file(secure, write_jsonl(tmp_path / "s.jsonl", [task_line("s1")]))
    other = make_user("other", projects=["sec"])
    from harness import accounts
    accounts.add_member(db, secure, user)
    db.commit()
    assert assignments.claim_next(db, user.id, secure).reason == "tier"
    db.rollback()
    _answer(db, project, user, right=True)
    assert attempt_of(db, project, user.id).passed
    assert db.get(User, user.id).tier == "security"
    db.commit()
    claim = assignments.claim_next(db, user.id, project)  # live work: gold1, gold2, live1
    assert claim.assignment.task.external_id == "gold1"
    db.commit()
    assert assignments.claim_next(db, user.id, secure).assignment is not None
    assert assignments.claim_next(db, other.id, secure).reason == "tier"


def test_gold_accuracy_pauses_automatically_until_a_lead_lifts_it(db, gold_project) -> None:
    project, user = gold_project
    project.settings = {"gold_pause_below": 0.6, "gold_min": 2}
    db.commit()
    _answer(db, project, user, right=False)
    member = db.scalars(select(ProjectMember).where(ProjectMember.user_id == user.id)).one()
    assert member.qualification == "not_required"  # one answer is not enough to judge
    _answer(db, project, user, right=False)  # submitting it pauses: nobody calls a check
    db.refresh(member)
    assert member.qualification == "paused" and member.paused_at is not None
    assert gold_accuracy(db, project, user.id)[:2] == (2, 0.0)
    assert check_gold_pause(db, project, user.id)
    assert assignments.claim_next(db, user.id, project).reason == "member_paused"
    lift_pause(db, project, user.id, by=None)
    db.commit()
    assert not check_gold_pause(db, project, user.id)  # the old answers no longer count
    claim = assignments.claim_next(db, user.id, project)
    assert claim.assignment is not None
    with pytest.raises(Conflict):
        lift_pause(db, project, user.id, by=None)


def test_good_gold_answers_do_not_pause(db, gold_project) -> None:
    project, user = gold_project
    project.settings = {"gold_pause_below": 0.6, "gold_min": 2}
    db.commit()
    _answer(db, project, user, right=True)
    _answer(db, project, user, right=True)
    assert gold_accuracy(db, project, user.id)[1] == 1.0
    assert not check_gold_pause(db, project, user.id)
    assert isinstance(db.get(Project, project.id), Project)


def test_a_lead_lifts_the_pause_in_the_browser_form(db, gold_project, make_user, login) -> None:
    from helpers import csrf_from

    project, user = gold_project
    project.settings = {"gold_pause_below": 0.6, "gold_min": 1}
    db.commit()
    _answer(db, project, user, right=False)
    make_user("boss", role="lead", projects=["g"])
    client = login("boss")
    page = client.get("/p/g/settings").get_data(as_text=True)
    assert "lift the pause" in page
    resp = client.post(f"/p/g/members/{user.id}/unpause", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    db.expire_all()
    member = db.scalars(select(ProjectMember).where(ProjectMember.user_id == user.id)).one()
    assert member.qualification == "qualified" and member.pause_lifted_at is not None


def test_the_annotator_sees_the_result_and_what_was_missed(db, gold_project, login,
                                                           make_user) -> None:
    project, user = gold_project
    project.settings = {"qualification_tasks": ["gold0"], "pass_mark": 0.9}
    db.commit()
    client = login("ann")
    assert "0 of 1 assessment task(s) answered" in client.get("/p/g/qualification").get_data(
        as_text=True)
    _answer(db, project, user, right=False)
    page = client.get("/p/g/qualification").get_data(as_text=True)
    assert "Not passed: 0%" in page
    assert "bug on candidate b, solution.py lines 2–2" in page
    make_user("boss", role="lead", projects=["g"])
    members = login("boss").get("/p/g/settings").get_data(as_text=True)
    row = members.split('data-member="ann"')[1].split("</tr>")[0]
    assert "failed" in row and "0% · not passed" in row


def test_gold_is_mixed_into_live_work_at_the_set_rate(db, make_project, make_user, import_file,
                                                      tmp_path) -> None:
    project = make_project("rate", overlap=2)
    lines = [task_line(f"live{i}") for i in range(6)] + [task_line(f"g{i}", gold=GOLD)
                                                        for i in range(2)]
    import_file(project, write_jsonl(tmp_path / "r.jsonl", lines))
    project.settings = {"gold_rate": 0.25}
    db.commit()
    user = make_user("ann", projects=["rate"])
    seen = []
    for _ in range(8):
        ann = annotate_task(db, project, user)
        seen.append("G" if ann.assignment.task.is_gold else "L")
    assert "".join(seen) == "GLLLGLLL"
    other = make_user("other", projects=["rate"])
    project.settings = {}
    db.commit()
    order = [annotate_task(db, project, other).assignment.task.external_id for _ in range(8)]
    assert order[-2:] == ["g0", "g1"]  # without a rate: file order


def _links(html: str) -> list[str]:
    import re

    return [h for h in re.findall(r'href="([^"]+)"', html) if h.startswith("/")]


def test_the_queue_links_to_the_assessment_until_taken_then_shows_the_result(
        db, gold_project, make_project, make_user, login) -> None:
    project, user = gold_project
    make_project("plain")
    db.add(ProjectMember(project_id=db.scalars(select(Project).where(
        Project.slug == "plain")).one().id, user_id=user.id))
    project.settings = {"qualification_tasks": ["gold0"], "pass_mark": 0.9}
    db.commit()
    client = login("ann")
    for url in ("/queue", "/p/g/queue"):
        html = client.get(url).get_data(as_text=True)
        item = html.split('data-project="g"')[1].split("</li>")[0]
        assert 'data-assessment="open"' in item and "0 of 1 task(s) answered" in item
        assert 'href="/p/g/qualification"' in item
        for link in _links(html):  # nothing on the queue answers 403 or 404
            resp = client.get(link)
            resp.close()
            assert resp.status_code < 400, link
    plain = client.get("/queue").get_data(as_text=True).split('data-project="plain"')[1]
    assert "assessment" not in plain.split("</li>")[0]  # it asks for none

    _answer(db, project, user, right=False)  # the one assessment task: graded, not passed
    html = client.get("/queue").get_data(as_text=True)
    item = html.split('data-project="g"')[1].split("</li>")[0]
    assert 'data-assessment="taken"' in item
    assert "Starter assessment not passed (0%)" in item and 'href="/p/g/qualification"' in item
    assert "Not passed: 0%" in client.get("/p/g/qualification").get_data(as_text=True)


def test_a_paused_member_cannot_go_on_changing_annotations(db, gold_project, login) -> None:
    """The pause stops claims and expires the member's leases; a save or submit from the
    review page (or forged) revived an expired lease or added a version to a submitted
    review as if there were no pause. Both are a 409 that says why, and nothing changes."""
    from helpers import csrf_from

    from harness.models import Annotation, Assignment

    project, user = gold_project
    project.settings = {"gold_pause_below": 0.6, "gold_min": 2}
    db.commit()
    client = login("ann")
    first = _answer(db, project, user, right=False)
    _answer(db, project, user, right=False)  # the second wrong answer pauses
    member = db.scalars(select(ProjectMember).where(ProjectMember.user_id == user.id)).one()
    assert member.qualification == "paused"
    assignment = db.get(Assignment, first.assignment_id)
    url = f"/p/g/a/{assignment.id}"
    page = client.get(url).get_data(as_text=True)
    headers = {"X-CSRFToken": csrf_from(page.replace('name="csrf-token" content=',
                                                      'name="csrf_token" value='))}
    by = {c.label: c.id for c in assignment.task.candidates}
    revised = {"findings": [], "ranking": [[by["a"]], [by["b"]]], "confidence": 3,
               "scores": first.scores, "rationale": "On second thoughts a is the better one."}
    expired = Assignment(project_id=project.id, user_id=user.id, state="expired",
                         task_id=db.scalars(select(Task.id).where(
                             Task.external_id == "live1")).one(),
                         display_order=[], lease_expires_at=None)
    db.add(expired)  # as a pause leaves a lease it expired
    db.commit()
    for target, draft in ((assignment, revised), (expired, {"rationale": "still at it"})):
        for endpoint in ("draft", "submit"):
            resp = client.post(f"/p/g/a/{target.id}/{endpoint}", headers=headers,
                               json={"draft": draft, "acknowledge_warnings": True})
            assert resp.status_code == 409, (target.state, endpoint, resp.status_code)
            assert resp.get_json()["error"]["code"] == "member_paused"
            assert "paused" in resp.get_json()["error"]["message"]
    db.expire_all()
    assert db.get(Assignment, expired.id).state == "expired"
    assert db.scalars(select(Annotation.version).where(
        Annotation.assignment_id == assignment.id)).all() == [1]

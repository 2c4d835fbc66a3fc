"""The same candidate in two tasks with different tests: each task's pages show, and its
submissions are checked against, the hints computed against that task's own tests."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import task_line, write_jsonl
from sqlalchemy import select

from harness import annotate, assignments
from harness.analysis import analyze_files
from harness.analysis.store import analyze_many
from harness.models import Analysis, Candidate, HintVerdict, Task, User
from harness.rubric import body_of

RULE = "special-cased-test-input"
SPECIAL_CASED = "def f(x):\n    if x == 12345:\n        return 42\n    return x\n"
PLAIN_TESTS = {"test_solution.py": "from solution import f\n\ndef test_f():\n    assert f(3) == 3\n"}
LITERAL_TESTS = {
    "test_solution.py": "from solution import f\n\ndef test_f():\n    assert f(12345) == 42\n"
}


@pytest.fixture
def two_tasks(db, make_project, make_user, import_file, tmp_path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """t1 (tests without the literal) and t2 (tests assert f(12345) == 42) share candidate
    a, analysed in one pass in candidate order, as `harness analyze` does."""
    project = make_project("ctx")
    lines = []
    for task_id, tests in (("t1", PLAIN_TESTS), ("t2", LITERAL_TESTS)):
        line = task_line(task_id, tests=tests)
        line["candidates"][0]["files"] = {"solution.py": SPECIAL_CASED}
        line["candidates"][1]["files"] = {"solution.py": "def f(x):\n    return x\n"}
        lines.append(line)
    import_file(project, write_jsonl(tmp_path / "t.jsonl", lines))
    rows = db.execute(
        select(Candidate.content_hash, Candidate.files, Task.language, Task.tests)
        .join(Task)
        .order_by(Candidate.id)
    ).all()
    analysed = analyze_many(db, [tuple(r) for r in rows])
    db.commit()
    make_user("lead1", role="lead", projects=["ctx"])
    make_user("ann", projects=["ctx"])
    expected = analyze_files({"solution.py": SPECIAL_CASED}, tests=LITERAL_TESTS).hints
    (key,) = [h.key for h in expected if h.rule_id == RULE]
    return {"project": project, "key": key, "analysed": analysed}


def test_each_task_page_shows_the_hints_of_its_own_tests(db, client, login, two_tasks) -> None:
    login("lead1")
    t1 = client.get("/p/ctx/t/t1").get_data(as_text=True)
    t2 = client.get("/p/ctx/t/t2").get_data(as_text=True)
    assert two_tasks["key"] in t2 and RULE in t2
    assert RULE not in t1
    # a and b once per context: two tasks with different tests, four rows
    assert two_tasks["analysed"] == 4 and len(db.scalars(select(Analysis)).all()) == 4


def test_the_review_page_and_hint_verdicts_use_the_tasks_own_tests(
    db, client, login, two_tasks
) -> None:
    project, key = two_tasks["project"], two_tasks["key"]
    user = db.scalars(select(User).where(User.name == "ann")).one()
    first = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    assert first.task.external_id == "t1"
    login("ann")
    assert RULE not in client.get(f"/p/ctx/a/{first.id}").get_data(as_text=True)
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    a = next(c for c in first.task.candidates if c.label == "a")
    refused = annotate.submit_annotation(
        db, first, project, rubric, _payload(first, {str(a.id): {key: "confirmed"}})
    )
    assert [p.field for p in refused.errors] == [f"hint_verdicts.{a.id}.{key}"]
    db.rollback()
    assignments.skip(db, first, "t1 checked")
    db.commit()

    second = assignments.claim_next(db, user.id, project).assignment
    db.commit()
    assert second.task.external_id == "t2"
    assert key in client.get(f"/p/ctx/a/{second.id}").get_data(as_text=True)
    a = next(c for c in second.task.candidates if c.label == "a")
    result = annotate.submit_annotation(
        db, second, project, rubric, _payload(second, {str(a.id): {key: "confirmed"}})
    )
    db.commit()
    assert result.errors == [] and result.annotation is not None
    verdicts = db.scalars(select(HintVerdict)).all()
    assert [(v.candidate_id, v.hint_key, v.rule_id) for v in verdicts] == [(a.id, key, RULE)]


def _payload(assignment, verdicts: dict[str, dict[str, str]]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    first, second = assignment.display_order
    return {
        "findings": [],
        "scores": {str(c): {"correctness": 4, "security": 4, "efficiency": 4, "readability": 4}
                   for c in (first, second)},
        "ranking": [[first], [second]],
        "rationale": "The first one is clearly better than the second one.",
        "confidence": 4,
        "hint_verdicts": verdicts,
    }

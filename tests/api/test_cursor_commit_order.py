"""The `since` cursor with concurrent writers: two submits in flight, the one with the
higher annotation id done first, a pull in between, then the lower one commits. The
lab must still get both (on PostgreSQL ids are handed out at insert and commits can
come in another order; SQLite has one writer at a time)."""

from __future__ import annotations

import json
import threading

from helpers import DEMO_TASKS
from sqlalchemy import select

from harness import annotate, assignments, labapi, simulate
from harness.models import Annotation, Assignment, Project
from harness.rubric import body_of


def _submit(session, assignment_id: int, annotator: int) -> int:
    """Submit a simulated review of the assignment in this session; flushed, not committed."""
    assignment = session.get(Assignment, assignment_id)
    project = session.get(Project, assignment.project_id)
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    shown = annotate.shown_candidates(assignment, assignment.task.candidates)
    payload = simulate.payload_for(rubric, shown, None, seed=7,
                                   task_key=assignment.task.external_id, annotator=annotator)
    payload["hint_verdicts"] = {}
    result = annotate.submit_annotation(session, assignment, project, rubric, payload,
                                        acknowledge_warnings=True)
    assert result.annotation is not None, result.errors
    return result.annotation.id


def _pull(session_factory, slug: str, since: str | None) -> tuple[list[int], str]:
    with session_factory() as s:
        project = s.scalars(select(Project).where(Project.slug == slug)).one()
        page = json.loads(labapi.annotations_page(s, project, since, 500))
    return [a["id"] for a in page["items"]], page["next_cursor"]


def test_a_pull_between_out_of_order_commits_misses_nothing(db, session_factory, make_project,
                                                            import_file) -> None:
    project = make_project("c", overlap=3)
    import_file(project, DEMO_TASKS)
    users = simulate.simulated_users(db, project, 2, seed=7)
    claimed = [assignments.claim_next(db, u.id, project).assignment for u in users]
    db.commit()
    first_ids, since = _pull(session_factory, "c", None)
    assert first_ids == []

    low = session_factory()  # in flight: holds the lower id until we commit it
    low_id = _submit(low, claimed[0].id, 1)
    high: dict[str, int] = {}

    def other_writer() -> None:
        with session_factory() as s:
            high["id"] = _submit(s, claimed[1].id, 2)
            s.commit()
            high["committed"] = 1

    writer = threading.Thread(target=other_writer)
    writer.start()
    writer.join(2.0)  # done by now unless it waits for the first writer
    seen, since = _pull(session_factory, "c", since)  # the pull in between
    low.commit()
    low.close()
    writer.join(60)
    assert not writer.is_alive() and high["committed"]
    assert high["id"] > low_id
    for _ in range(3):
        more, since = _pull(session_factory, "c", since)
        seen += more
    assert seen == [low_id, high["id"]], seen  # every one, once, in id order
    db.expire_all()
    assert sorted(db.scalars(select(Annotation.id))) == [low_id, high["id"]]

"""What the review page's script needs to know, as plain data (the view adds URLs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from harness.annotate.common import Shown
from harness.cwe import COMMON_CWES
from harness.models import Assignment, Project, Rubric, Task, utcnow
from harness.rubric import RubricBody


def rubric_state(rubric: RubricBody) -> dict[str, Any]:
    return {
        "criteria": [
            {"key": c.key, "label": c.label, "min": c.scale.min, "max": c.scale.max,
             "required": c.required}
            for c in rubric.criteria
        ],
        "categories": [{"key": c.key, "label": c.label, "cwe": c.cwe} for c in rubric.categories],
        "severities": rubric.severities,
        "ties": rubric.ranking.ties,
        "ranking": rubric.ranking.enabled,
    }


def review_state(assignment: Assignment, shown: list[Shown], rubric: RubricBody,
                 versions: int) -> dict[str, Any]:
    """The assignment, its candidates as shown, the rubric, the CWE list and the draft."""
    return {
        "assignment": assignment.id,
        "state": assignment.state,
        "candidates": [
            {"id": s.candidate.id, "letter": s.letter, "files": s.line_counts} for s in shown
        ],
        "rubric": rubric_state(rubric),
        "cwes": [[cwe_id, name] for cwe_id, name in COMMON_CWES],
        "draft": assignment.draft or {},
        "versions": versions,
        "active_seconds": assignment.active_seconds,
        "revision": assignment.draft_revision,
        "submitted_revision": assignment.submitted_revision,
        "lease_seconds_left": lease_seconds_left(assignment),
    }


def lease_seconds_left(assignment: Assignment, now: datetime | None = None) -> int | None:
    """Seconds until the lease lapses (None: no lease, e.g. submitted); the page counts down."""
    expires = assignment.lease_expires_at
    if expires is None or assignment.state != "active":
        return None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return max(int((expires - (now or utcnow())).total_seconds()), 0)


def page_task(session: Session, project: Project, assignment: Assignment) -> Task:
    """The assignment's task with its candidates, and the project's rubric, in one
    statement (three lazy loads otherwise), set as `assignment.task` and `project.rubric`."""
    task, rubric = session.execute(
        select(Task, Rubric)
        .join(Task.project)
        .join(Project.rubric)
        .where(Task.id == assignment.task_id, Project.id == project.id)
        .options(joinedload(Task.candidates))
    ).unique().one()
    set_committed_value(assignment, "task", task)
    set_committed_value(project, "rubric", rubric)
    return task


def progress(session: Session, user_id: int, project: Project) -> tuple[int, int]:
    """(tasks this annotator has submitted, tasks in the project): "3 of 14 done".

    The total is the project's kept count: counting the tasks grew with the project."""
    done = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.user_id == user_id, Assignment.project_id == project.id,
            Assignment.state == "submitted")
    )
    return int(done or 0), int(project.task_count)

"""What the review page's script needs to know, as plain data (the view adds URLs)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, ScalarSelect, Select, bindparam, func, select
from sqlalchemy.orm import Session, defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from harness.annotate.common import Shown
from harness.cwe import COMMON_CWES
from harness.db import execute_core
from harness.models import Annotation, Assignment, Candidate, Project, Rubric, Task, utcnow
from harness.projects import is_member
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


@cache
def _page_statement(admin: bool) -> Select[Project, Assignment, Task, Rubric]:
    """Built once: the statement's construction and cache key cost more than its run."""
    user_id: BindParameter[int] = bindparam("user_id")
    query = (
        select(Project, Assignment, Task, Rubric)
        .join(Assignment, Assignment.project_id == Project.id)
        .join(Task, Task.id == Assignment.task_id)
        .join(Rubric, Rubric.id == Project.rubric_id)
        .where(Project.slug == bindparam("slug"), Assignment.id == bindparam("assignment_id"),
               Assignment.user_id == user_id)
        # each is repeated on the candidates' rows and decoded again on each (psycopg
        # decodes json columns as it fetches): what the page does not read is left out
        .options(joinedload(Task.candidates).defer(Candidate.meta), defer(Rubric.body),
                 defer(Task.meta), defer(Task.gold_answer))
    )
    return query if admin else query.where(is_member(user_id))


def page_objects(session: Session, slug: str, assignment_id: int, *, user_id: int,
                 admin: bool) -> tuple[Project, Assignment, Task] | None:
    """The project (if the user may see it), the user's own assignment in it, and its task
    with the candidates and the project's rubric (set as `assignment.task` and
    `project.rubric`): one statement for what the access lookups
    (harness.projects.project_for, harness.assignments.own_in_project) and three lazy
    loads asked in six. None when anything is missing or not the user's; the caller's
    lookups then say what (NotFound)."""
    row = session.execute(
        _page_statement(admin),
        {"slug": slug, "assignment_id": assignment_id, "user_id": user_id},
    ).unique().one_or_none()
    if row is None:
        return None
    project, assignment, task, rubric = row
    set_committed_value(assignment, "task", task)
    set_committed_value(project, "rubric", rubric)
    return project, assignment, task


def _submitted_count(user_id: int | BindParameter[int],
                     project_id: int | BindParameter[int]) -> ScalarSelect[int]:
    return select(func.count(Assignment.id)).where(
        Assignment.user_id == user_id, Assignment.project_id == project_id,
        Assignment.state == "submitted").correlate(None).scalar_subquery()


def progress(session: Session, user_id: int, project: Project) -> tuple[int, int]:
    """(tasks this annotator has submitted, tasks in the project): "3 of 14 done".

    The total is the project's kept count: counting the tasks grew with the project."""
    done = execute_core(session, select(_submitted_count(user_id, project.id))).scalar()
    return int(done or 0), int(project.task_count)


@cache
def _versions_statement() -> Select[int, int, datetime]:
    return (
        select(_submitted_count(bindparam("user_id"), bindparam("project_id")),
               Annotation.version, Annotation.submitted_at)
        .select_from(Assignment)
        .outerjoin(Annotation, Annotation.assignment_id == Assignment.id)
        .where(Assignment.id == bindparam("assignment_id"))
        .order_by(Annotation.version)
    )


def versions_and_progress(
    session: Session, assignment: Assignment, project: Project
) -> tuple[list[tuple[int, datetime]], tuple[int, int]]:
    """(version, submitted_at) of the assignment's annotations, oldest first, and its
    annotator's `progress`, in one statement: the assignment's row outer-joined to its
    annotations (one row without a version when it has none), each row carrying the count."""
    rows = execute_core(session, _versions_statement(), {
        "user_id": assignment.user_id, "project_id": project.id, "assignment_id": assignment.id,
    }).all()
    # without annotations: one row whose version and time are NULL (the outer join)
    versions = [(v, at) for _done, v, at in rows if v is not None]
    done = rows[0][0] if rows else 0
    return versions, (int(done or 0), int(project.task_count))

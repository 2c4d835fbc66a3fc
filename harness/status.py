"""Project counts for `harness status` and the lead's pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.models import Annotation, Assignment, Candidate, Project, Task, TestRun


def project_status(session: Session, project: Project) -> dict[str, Any]:
    tasks = session.scalar(select(func.count(Task.id)).where(Task.project_id == project.id)) or 0
    candidates = session.scalar(
        select(func.count(Candidate.id)).join(Task).where(Task.project_id == project.id)
    ) or 0
    assignments = dict(
        session.execute(
            select(Assignment.state, func.count(Assignment.id))
            .where(Assignment.project_id == project.id)
            .group_by(Assignment.state)
        ).all()
    )
    annotations = session.scalar(
        select(func.count(Annotation.id))
        .join(Assignment)
        .where(Assignment.project_id == project.id)
    ) or 0
    # Runs are shared by content; count the ones this project's candidates use.
    run_keys = (
        select(Candidate.content_hash, Task.tests_hash)
        .join(Task)
        .where(Task.project_id == project.id)
        .distinct()
        .subquery()
    )
    runs = dict(
        session.execute(
            select(func.coalesce(TestRun.status, TestRun.state), func.count(TestRun.id))
            .join(
                run_keys,
                (TestRun.candidate_hash == run_keys.c.content_hash)
                & (TestRun.tests_hash == run_keys.c.tests_hash),
            )
            .group_by(func.coalesce(TestRun.status, TestRun.state))
        ).all()
    )
    return {
        "project": project.slug,
        "tasks": tasks,
        "candidates": candidates,
        "runs": runs,
        "assignments": assignments,
        "annotations": annotations,
    }

"""Project counts for `harness status` and the lead's pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.models import Annotation, Assignment, Candidate, Project, Task
from harness.runqueue import project_counts


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
    runs = {k: v for k, v in project_counts(session, project).items() if v}
    return {
        "project": project.slug,
        "tasks": tasks,
        "candidates": candidates,
        "runs": runs,
        "assignments": assignments,
        "annotations": annotations,
    }

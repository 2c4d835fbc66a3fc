"""Project counts for `harness status` and the lead's pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.models import Annotation, Assignment, Candidate, Project, Task
from harness.runs import project_counts


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


def project_overview(session: Session, project_ids: list[int]) -> dict[int, dict[str, int]]:
    """Task, candidate and annotation counts of many projects in three grouped queries
    (the project list; `project_status` is the full picture of one project)."""
    out = {pid: {"tasks": 0, "candidates": 0, "annotations": 0} for pid in project_ids}
    if not project_ids:
        return out
    queries = {
        "tasks": select(Task.project_id, func.count(Task.id))
        .where(Task.project_id.in_(project_ids))
        .group_by(Task.project_id),
        "candidates": select(Task.project_id, func.count(Candidate.id))
        .join(Candidate, Candidate.task_id == Task.id)
        .where(Task.project_id.in_(project_ids))
        .group_by(Task.project_id),
        "annotations": select(Assignment.project_id, func.count(Annotation.id))
        .join(Annotation, Annotation.assignment_id == Assignment.id)
        .where(Assignment.project_id.in_(project_ids))
        .group_by(Assignment.project_id),
    }
    for key, query in queries.items():
        for pid, n in session.execute(query):
            out[pid][key] = n
    return out

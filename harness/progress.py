"""How far the work is: per task (annotations / k, skipped, in progress) for the lead's
task list, in one grouped query for a whole page of tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.models import Assignment, Project, Task


@dataclass(frozen=True)
class TaskProgress:
    submitted: int = 0
    active: int = 0
    skipped: int = 0
    expired: int = 0

    def done(self, overlap: int) -> bool:
        return self.submitted >= overlap


def task_progress(session: Session, project: Project,
                  external_ids: Sequence[str]) -> dict[str, TaskProgress]:
    """Assignment counts by state for these tasks of the project (one query)."""
    if not external_ids:
        return {}
    rows = session.execute(
        select(Task.external_id, Assignment.state, func.count(Assignment.id))
        .join(Assignment, Assignment.task_id == Task.id)
        .where(Task.project_id == project.id, Task.external_id.in_(list(external_ids)))
        .group_by(Task.external_id, Assignment.state)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for ext, state, n in rows:
        counts.setdefault(ext, {})[state] = int(n)
    return {
        ext: TaskProgress(
            submitted=counts.get(ext, {}).get("submitted", 0),
            active=counts.get(ext, {}).get("active", 0),
            skipped=counts.get(ext, {}).get("skipped", 0),
            expired=counts.get(ext, {}).get("expired", 0),
        )
        for ext in external_ids
    }

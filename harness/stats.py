"""Per-task figures kept on write, so the lead's pages never recompute a project.

`refresh_task` recomputes one task's row of `task_stats` (agreement, counts, the
coincidence matrix for the pooled alpha, position-bias counts, adjudicated) from
that task's annotations alone. It is called in the same transaction as every
submit, skip and adjudication of the task, after the change is flushed:

- PostgreSQL: the task's row is made to exist (INSERT ... ON CONFLICT DO NOTHING)
  and locked first (FOR UPDATE), so two submits to one task refresh one after the
  other and the second one's reads (READ COMMITTED: a fresh snapshot per statement)
  include the first's commit.
- SQLite: the refresh follows a write of the same transaction, and a writing
  transaction always reads the newest database.

Pages read rows: `project_figures` pools them (alpha from the summed coincidence
matrices, means of W and finding agreement), `below_threshold` is the adjudication
queue, `position_counts` the position bias. A task with annotations but no row (a
database from before this table) is filled by `fill_all` right after the schema
upgrade (harness.setup.migrate), and by `fill_missing`, which pages call first as a
safety net: one query when nothing is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from harness.agreement import (
    Coincidences,
    ProjectAgreement,
    Rated,
    TaskAgreement,
    alpha_of,
    coincidences,
    rated_by_task,
    score_units,
    task_agreement,
)
from harness.models import Adjudication, Assignment, Project, Task, TaskStats, utcnow

COUNTED_STATES = ("submitted", "skipped")


@dataclass(frozen=True)
class Positions:
    """How often the candidate shown at each position was ranked best (alone or tied)."""

    ranked: int = 0
    expected: float = 0.0  # sum over rankings of the top group's share: chance alone
    wins: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"ranked": self.ranked, "expected": self.expected, "wins": list(self.wins)}


def positions_of(rated: Sequence[Rated]) -> Positions:
    ranked = 0
    expected = 0.0
    wins: list[int] = []
    for r in rated:
        if not r.ranking or not r.display_order:
            continue
        top = set(r.ranking[0])
        ranked += 1
        expected += len(top) / len(r.display_order)
        for position, cid in enumerate(r.display_order):
            if cid in top:
                wins.extend([0] * (position + 1 - len(wins)))
                wins[position] += 1
    return Positions(ranked, expected, wins)


def _matrix_json(matrix: Coincidences) -> list[list[float]]:
    return [[c, k, o] for (c, k), o in sorted(matrix.items())]


def _lowest(figures: TaskAgreement) -> float | None:
    defined = [v for _, v in figures.figures() if v is not None]
    return min(defined) if defined else None


def _write(session: Session, project_id: int, task_id: int, rated: Sequence[Rated],
           counts: dict[str, int], adjudicated: bool) -> TaskStats:
    figures = task_agreement(task_id, rated)
    row = session.get(TaskStats, task_id, populate_existing=True)
    if row is None:
        row = TaskStats(task_id=task_id, project_id=project_id)
        session.add(row)
    row.submitted = len(rated)
    row.skipped = counts.get("skipped", 0)
    row.alpha, row.w, row.findings = figures.alpha, figures.w, figures.findings
    row.lowest = _lowest(figures) if len(rated) >= 2 else None
    row.coincidences = _matrix_json(coincidences(score_units(rated))) if len(rated) >= 2 else []
    row.positions = positions_of(rated).to_json()
    row.adjudicated = adjudicated
    return row


def _counts(session: Session, task_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for task_id, state, n in session.execute(
            select(Assignment.task_id, Assignment.state, func.count(Assignment.id))
            .where(Assignment.task_id.in_(list(task_ids)),
                   Assignment.state.in_(COUNTED_STATES))
            .group_by(Assignment.task_id, Assignment.state)):
        out.setdefault(task_id, {})[state] = int(n)
    return out


# built once: refresh_task runs in every submit (harness.assignments.renew_lease says why)
_ADJUDICATED = select(exists().where(Adjudication.task_id == bindparam("task_id")))
_LOCK_STATS = (select(TaskStats.task_id).where(TaskStats.task_id == bindparam("task_id"))
               .with_for_update())


def _lock_row(session: Session, project_id: int, task_id: int) -> None:
    """Make sure the task's row exists, then hold it until commit: concurrent refreshes
    of one task run one after the other (FOR UPDATE is a no-op on SQLite, whose
    writers are serialised already)."""
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)(TaskStats)
    session.execute(insert.values(task_id=task_id, project_id=project_id, submitted=0,
                                  skipped=0, coincidences=[], positions={}, adjudicated=False,
                                  updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["task_id"]))
    session.execute(_LOCK_STATS, {"task_id": task_id})


def refresh_task(session: Session, project: Project, task_id: int) -> TaskStats:
    """Recompute the task's row from its annotations; flushes (the caller commits)."""
    _lock_row(session, project.id, task_id)
    rated = dict(rated_by_task(session, project, [task_id])).get(task_id, [])
    adjudicated = session.scalar(_ADJUDICATED, {"task_id": task_id}) or False
    row = _write(session, project.id, task_id, rated, _counts(session, [task_id]).get(task_id, {}),
                 bool(adjudicated))
    session.flush()
    return row


def refresh_tasks(session: Session, project: Project, task_ids: Sequence[int]) -> int:
    """Recompute many tasks' rows, a batch at a time (used to fill and to rebuild)."""
    ids = sorted(set(task_ids))
    batch = 500
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        rated = dict(rated_by_task(session, project, chunk))
        counts = _counts(session, chunk)
        done = set(session.scalars(select(Adjudication.task_id).where(
            Adjudication.task_id.in_(chunk))))
        for task_id in chunk:
            _write(session, project.id, task_id, rated.get(task_id, []),
                   counts.get(task_id, {}), task_id in done)
        session.flush()
    return len(ids)


def fill_missing(session: Session, project: Project) -> int:
    """Rows for the project's tasks that have submitted or skipped work but no row yet."""
    missing = list(session.scalars(
        select(Assignment.task_id)
        .where(Assignment.project_id == project.id, Assignment.state.in_(COUNTED_STATES),
               ~exists().where(TaskStats.task_id == Assignment.task_id))
        .distinct()))
    return refresh_tasks(session, project, missing) if missing else 0


def fill_all(session: Session) -> int:
    """fill_missing for every project (after a schema upgrade brought the table)."""
    return sum(fill_missing(session, project) for project in session.scalars(select(Project)))


def _mean(values: Sequence[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def _agreement_of(row: Any) -> TaskAgreement:
    return TaskAgreement(row.task_id, row.submitted, row.alpha, row.w, row.findings)


def project_figures(session: Session, project: Project) -> ProjectAgreement:
    """The project's agreement from the kept rows: the same figures as
    `agreement.project_agreement`, which recomputes them from every annotation."""
    fill_missing(session, project)
    matrix: Coincidences = {}
    per_task: list[TaskAgreement] = []
    for row in session.execute(
            select(TaskStats.task_id, TaskStats.submitted, TaskStats.alpha, TaskStats.w,
                   TaskStats.findings, TaskStats.coincidences)
            .where(TaskStats.project_id == project.id, TaskStats.submitted >= 2)
            .order_by(TaskStats.task_id)):
        per_task.append(_agreement_of(row))
        for c, k, o in row.coincidences:
            matrix[(c, k)] = matrix.get((c, k), 0.0) + o
    return ProjectAgreement(tasks=len(per_task), alpha=alpha_of(matrix),
                            w_mean=_mean([t.w for t in per_task]),
                            findings_mean=_mean([t.findings for t in per_task]),
                            per_task=per_task)


def below_threshold(session: Session, project: Project, threshold: float,
                    limit: int) -> list[tuple[str, TaskAgreement]]:
    """(external id, figures) of tasks with two or more annotations, a figure below the
    threshold and no adjudication, lowest first: one indexed query."""
    fill_missing(session, project)
    rows = session.execute(
        select(Task.external_id, TaskStats.task_id, TaskStats.submitted, TaskStats.alpha,
               TaskStats.w, TaskStats.findings)
        .join(Task, Task.id == TaskStats.task_id)
        .where(TaskStats.project_id == project.id, TaskStats.submitted >= 2,
               TaskStats.adjudicated.is_(False), TaskStats.lowest < threshold)
        .order_by(TaskStats.lowest, TaskStats.task_id)
        .limit(limit)).all()
    return [(row.external_id, _agreement_of(row)) for row in rows]


def position_counts(session: Session, project: Project) -> Positions:
    """The project's position counts: the kept rows summed."""
    fill_missing(session, project)
    ranked = 0
    expected = 0.0
    wins: list[int] = []
    for (positions,) in session.execute(
            select(TaskStats.positions).where(TaskStats.project_id == project.id)):
        ranked += int(positions.get("ranked", 0))
        expected += float(positions.get("expected", 0.0))
        for i, n in enumerate(positions.get("wins", [])):
            wins.extend([0] * (i + 1 - len(wins)))
            wins[i] += int(n)
    return Positions(ranked, expected, wins)

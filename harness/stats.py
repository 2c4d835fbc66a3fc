"""Per-task figures kept on write, so the lead's pages never recompute a project.

`refresh_task` recomputes one task's row of `task_stats` (agreement, counts, the
coincidence matrix for the pooled alpha, position-bias counts, adjudicated) from
that task's annotations alone. It is called in the same transaction as every
submit, skip and adjudication of the task, after the change is flushed:

- PostgreSQL: the task's row is made to exist and locked first, in one statement
  (INSERT ... ON CONFLICT DO UPDATE), so two submits to one task refresh one after
  the other and the second one's reads (READ COMMITTED: a fresh snapshot per
  statement) include the first's commit.
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
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, exists, func, select
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
    rated_of,
    score_units,
    task_agreement,
)
from harness.models import (
    Adjudication,
    Annotation,
    Assignment,
    Finding,
    Project,
    Task,
    TaskStats,
    utcnow,
)

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


def _values(task_id: int, rated: Sequence[Rated], skipped: int,
            adjudicated: bool) -> dict[str, Any]:
    """The task's row, computed from its latest annotations (one rule for both writers)."""
    figures = task_agreement(task_id, rated)
    pooled = len(rated) >= 2
    return {
        "submitted": len(rated), "skipped": skipped,
        "alpha": figures.alpha, "w": figures.w, "findings": figures.findings,
        "lowest": _lowest(figures) if pooled else None,
        "coincidences": _matrix_json(coincidences(score_units(rated))) if pooled else [],
        "positions": positions_of(rated).to_json(), "adjudicated": adjudicated,
    }


def _write(session: Session, project_id: int, task_id: int, rated: Sequence[Rated],
           counts: dict[str, int], adjudicated: bool) -> TaskStats:
    row = session.get(TaskStats, task_id, populate_existing=True)
    if row is None:
        row = TaskStats(task_id=task_id, project_id=project_id)
        session.add(row)
    for key, value in _values(task_id, rated, counts.get("skipped", 0), adjudicated).items():
        setattr(row, key, value)
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


# --- refresh_task: built once, it runs in every submit and skip ---------------------------
# (harness.leases.renew_lease says why). Three statements on SQLite, four on
# PostgreSQL: lock (PostgreSQL), the latest annotations with their findings, the skip
# count with the adjudication, the row written.

class _Found(NamedTuple):
    """A finding as agreement reads it (agreement.FindingLike)."""

    candidate_id: int
    file_path: str
    line_start: int
    line_end: int
    category: str
    cwe: int | None


# Core statements on the tables (no ORM unit of work or entity loading per submit)
ANNOTATIONS: Table = Annotation.__table__  # type: ignore[assignment]
ASSIGNMENTS: Table = Assignment.__table__  # type: ignore[assignment]
FINDINGS: Table = Finding.__table__  # type: ignore[assignment]
STATS: Table = TaskStats.__table__  # type: ignore[assignment]
_an, _as, _fi = ANNOTATIONS.c, ASSIGNMENTS.c, FINDINGS.c
_LATEST = (select(_an.assignment_id, func.max(_an.version).label("v"))
           .join(ASSIGNMENTS, _as.id == _an.assignment_id)
           .where(_as.task_id == bindparam("task_id"), _as.project_id == bindparam("project_id"))
           .group_by(_an.assignment_id)
           .subquery())
_RATED = (select(_an.id, _as.user_id, _an.scores, _an.ranking, _an.display_order,
                 _fi.candidate_id, _fi.file_path, _fi.line_start, _fi.line_end, _fi.category,
                 _fi.cwe)
          .select_from(ANNOTATIONS)
          .join(_LATEST, (_LATEST.c.assignment_id == _an.assignment_id)
                & (_LATEST.c.v == _an.version))
          .join(ASSIGNMENTS, _as.id == _an.assignment_id)
          .outerjoin(FINDINGS, _fi.annotation_id == _an.id)
          .order_by(_as.user_id, _an.id, _fi.id))
"""agreement.rated_by_task for one task in one statement (a row per finding)."""
_SKIPPED_ADJUDICATED = select(
    select(func.count(_as.id))
    .where(_as.task_id == bindparam("task_id"), _as.state == "skipped")
    .scalar_subquery(),
    exists().where(Adjudication.__table__.c.task_id == bindparam("task_id")),
)
_WRITTEN = ("submitted", "skipped", "alpha", "w", "findings", "lowest", "coincidences",
            "positions", "adjudicated", "updated_at")


def _upsert(insert: Any) -> Any:
    statement = insert(STATS)
    return statement.on_conflict_do_update(
        index_elements=["task_id"], set_={key: statement.excluded[key] for key in _WRITTEN})


_UPSERT = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}
_LOCK_ROW = (postgresql.insert(STATS)
             .values(task_id=bindparam("task_id"), project_id=bindparam("project_id"),
                     submitted=0, skipped=0, coincidences=[], positions={},
                     adjudicated=False, updated_at=bindparam("now"))
             .on_conflict_do_update(index_elements=["task_id"],
                                    set_={"updated_at": bindparam("now")}))
"""PostgreSQL: make the task's row exist and hold it until commit, in one statement
(ON CONFLICT DO UPDATE locks the row, waiting for a concurrent refresh to commit)."""


def _rated(session: Session, project_id: int, task_id: int) -> list[Rated]:
    rated: list[Rated] = []
    last = None
    for row in session.execute(_RATED, {"task_id": task_id, "project_id": project_id}):
        if row.id != last:
            last = row.id
            rated.append(rated_of(row.user_id, row.scores, row.ranking, row.display_order))
        if row.candidate_id is not None:
            rated[-1].findings.append(_Found(row.candidate_id, row.file_path, row.line_start,
                                             row.line_end, row.category, row.cwe))
    return rated


def refresh_task(session: Session, project: Project, task_id: int, *,
                 pending: Rated | None = None) -> None:
    """Recompute the task's row from its annotations; flushes first (the caller commits).

    `pending`: an annotation version its caller inserts later in this transaction
    (harness.annotate.submit, which keeps the project's annotation-id lock short): it
    counts as its annotator's latest, in place of the one the database holds.
    """
    session.flush()
    dialect = session.get_bind().dialect.name
    now = utcnow()
    if dialect == "postgresql":
        session.execute(_LOCK_ROW, {"task_id": task_id, "project_id": project.id, "now": now})
    rated = _rated(session, project.id, task_id)
    if pending is not None:
        rated = sorted([r for r in rated if r.user_id != pending.user_id] + [pending],
                       key=lambda r: r.user_id)
    skipped, adjudicated = session.execute(_SKIPPED_ADJUDICATED, {"task_id": task_id}).one()
    values = _values(task_id, rated, int(skipped or 0), bool(adjudicated))
    session.execute(_UPSERT[dialect], {"task_id": task_id, "project_id": project.id,
                                       "updated_at": now, **values})
    kept = session.identity_map.get(session.identity_key(TaskStats, task_id))
    if kept is not None:  # an ORM copy loaded earlier in this session reads the new row
        session.expire(kept)


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

"""The lead's dashboard: per-annotator work and pay, gold accuracy, progress over time,
agreement and the position bias of rankings, each a table a page shows and a CSV
download repeats (the same rows, so the two never disagree).

Every table is built in a fixed number of queries over the project, streaming
annotations rather than loading the project's objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from harness import stats
from harness.agreement import ProjectAgreement
from harness.errors import HarnessError
from harness.models import Annotation, Assignment, Finding, Project, Task, User
from harness.qualification import score_against_gold

Table = tuple[list[str], list[list[Any]]]
"""(header, rows): what a page renders and a CSV writes."""


def hourly_rate(project: Project) -> float | None:
    value = (project.settings or {}).get("hourly_rate")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def gold_scores_by_user(session: Session, project: Project
                        ) -> dict[int, list[tuple[date, float]]]:
    """Each annotator's (day, score) on gold tasks (their first submitted version of each)."""
    rows = session.execute(
        select(Assignment.user_id, Task, Annotation)
        .join(Task, Task.id == Assignment.task_id)
        .join(Annotation, Annotation.assignment_id == Assignment.id)
        .where(Assignment.project_id == project.id, Task.is_gold.is_(True),
               Annotation.version == 1)
    ).all()
    findings: dict[int, list[Finding]] = {}
    ids = [a.id for _u, _t, a in rows]
    for start in range(0, len(ids), 500):
        for f in session.scalars(select(Finding).where(
                Finding.annotation_id.in_(ids[start:start + 500]))):
            findings.setdefault(f.annotation_id, []).append(f)
    out: dict[int, list[tuple[date, float]]] = {}
    for user_id, task, annotation in rows:
        ranking = [[int(c) for c in g] for g in annotation.ranking]
        try:
            scored = score_against_gold(task, findings.get(annotation.id, []), ranking)
        except HarnessError:  # a malformed gold answer scores nothing (the lead sees why
            scored = None     # on the task page)
        if scored is not None:
            out.setdefault(user_id, []).append((annotation.submitted_at.date(), scored.score))
    return out


def annotators_table(session: Session, project: Project) -> Table:
    submitted = func.sum(case((Assignment.state == "submitted", 1), else_=0))
    skipped = func.sum(case((Assignment.state == "skipped", 1), else_=0))
    active = func.sum(case((Assignment.state == "active", 1), else_=0))
    rows = session.execute(
        select(User.id, User.name, submitted, skipped, active,
               func.coalesce(func.sum(Assignment.active_seconds), 0.0))
        .join(Assignment, Assignment.user_id == User.id)
        .where(Assignment.project_id == project.id)
        .group_by(User.id, User.name)
        .order_by(User.name)
    ).all()
    gold = gold_scores_by_user(session, project)
    rate = hourly_rate(project)
    header = ["annotator", "submitted", "skipped", "in_progress", "active_hours",
              "tasks_per_hour", "earnings_estimate", "gold_answers", "gold_accuracy"]
    out = []
    for user_id, name, n_sub, n_skip, n_active, seconds in rows:
        hours = float(seconds or 0.0) / 3600
        scores = [score for _day, score in gold.get(user_id, [])]
        out.append([
            name, int(n_sub or 0), int(n_skip or 0), int(n_active or 0), round(hours, 3),
            round(int(n_sub or 0) / hours, 2) if hours > 0 else None,
            round(hours * rate, 2) if rate is not None else None,
            len(scores), round(sum(scores) / len(scores), 3) if scores else None,
        ])
    return header, out


def gold_table(session: Session, project: Project) -> Table:
    """Gold accuracy per annotator and day: how it moves over time."""
    names = dict(session.execute(select(User.id, User.name).join(
        Assignment, Assignment.user_id == User.id).where(
        Assignment.project_id == project.id).distinct()).all())
    rows = []
    for user_id, scores in gold_scores_by_user(session, project).items():
        by_day: dict[date, list[float]] = {}
        for day, score in scores:
            by_day.setdefault(day, []).append(score)
        for day in sorted(by_day):
            got = by_day[day]
            rows.append([names.get(user_id, str(user_id)), day.isoformat(), len(got),
                         round(sum(got) / len(got), 3)])
    rows.sort(key=lambda r: (r[0], r[1]))
    return ["annotator", "day", "gold_answers", "gold_accuracy"], rows


def progress_table(session: Session, project: Project) -> Table:
    """Submissions per day (first versions) and the running total: one grouped query."""
    day = func.date(Annotation.submitted_at)
    counted = session.execute(
        select(day, func.count(Annotation.id))
        .join(Assignment, Assignment.id == Annotation.assignment_id)
        .where(Assignment.project_id == project.id, Annotation.version == 1)
        .group_by(day).order_by(day)).all()
    running = 0
    rows = []
    for at, n in counted:
        running += int(n)
        rows.append([str(at)[:10], int(n), running])
    return ["day", "submitted", "total"], rows


def agreement_table(figures: ProjectAgreement, names: dict[int, str]) -> Table:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    return (["task", "annotations", "alpha", "w", "findings"],
            [[names.get(t.task_id, str(t.task_id)), t.annotations, r(t.alpha), r(t.w),
              r(t.findings)] for t in figures.per_task])


@dataclass(frozen=True)
class PositionBias:
    ranked: int
    first_won: int
    expected: float  # what chance alone gives the first-shown candidate

    @property
    def rate(self) -> float | None:
        return self.first_won / self.ranked if self.ranked else None


def position_bias(session: Session, project: Project) -> tuple[PositionBias, Table]:
    """How often the candidate shown first is ranked best (alone or tied), against chance
    (the top group's share of the candidates), per position shown; from the latest
    version of each submitted annotation, as kept per task (harness.stats)."""
    counts = stats.position_counts(session, project)
    ranked = counts.ranked
    bias = PositionBias(ranked, counts.wins[0] if counts.wins else 0,
                        counts.expected / ranked if ranked else 0.0)
    rows = [[position + 1, n, round(n / ranked, 4) if ranked else None]
            for position, n in enumerate(counts.wins) if n]
    return bias, (["position_shown", "ranked_best", "share"], rows)


def histogram(values: Sequence[float | None], bins: int = 10, lo: float = -1.0,
              hi: float = 1.0) -> list[tuple[float, float, int]]:
    """(from, to, count) of the defined values in equal bins over lo..hi."""
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        if v is None:
            continue
        i = min(int((max(min(v, hi), lo) - lo) / width), bins - 1)
        counts[i] += 1
    return [(lo + i * width, lo + (i + 1) * width, counts[i]) for i in range(bins)]


@dataclass
class Dashboard:
    annotators: Table
    gold: Table
    progress: Table
    agreement: Table
    positions: Table
    bias: PositionBias
    figures: ProjectAgreement


def dashboard(session: Session, project: Project) -> Dashboard:
    figures = stats.project_figures(session, project)
    names = dict(session.execute(select(Task.id, Task.external_id).where(
        Task.id.in_([t.task_id for t in figures.per_task]))).all()) if figures.per_task else {}
    bias, positions = position_bias(session, project)
    return Dashboard(annotators_table(session, project), gold_table(session, project),
                     progress_table(session, project),
                     agreement_table(figures, names), positions, bias, figures)


TABLES = ("annotators", "gold", "progress", "agreement", "positions")


def table(session: Session, project: Project, name: str) -> Table:
    """One of the dashboard's tables alone (a CSV download builds only its own)."""
    if name == "agreement":
        figures = stats.project_figures(session, project)
        names = dict(session.execute(select(Task.id, Task.external_id).where(
            Task.project_id == project.id)).all()) if figures.per_task else {}
        return agreement_table(figures, names)
    if name == "positions":
        return position_bias(session, project)[1]
    builders = {"annotators": annotators_table, "gold": gold_table, "progress": progress_table}
    return builders[name](session, project)

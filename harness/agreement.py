"""Agreement between annotators of the same task, and across a project.

Three figures, each a pure function on plain data (the scoring rules live here
once; qualification.py uses the same finding rule against gold answers):

- Krippendorff's alpha on rubric scores. A unit is one (candidate, criterion) of
  a task; its values are the scores the task's annotators gave. Ordinal by
  default (scores are points on a scale, not distances); missing values allowed.
- Kendall's W on rankings, with the tie correction: m annotators rank the same n
  candidates; tied candidates get their mean rank.
- Finding agreement: two findings are the same finding when they are on the
  same candidate and file, their line ranges overlap and their category matches
  (and their CWE, when both name one). Per pair of annotators, the Dice
  coefficient of a one-to-one matching; both reporting nothing counts as full
  agreement.

A figure that is undefined (one annotator, no variation at all) is None, never
a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.models import Annotation, Assignment, Finding, Project

DEFAULT_THRESHOLD = 0.5
"""Below this (any defined figure of a task) the task goes to adjudication."""


# --- Krippendorff's alpha ----------------------------------------------------------------

def _metric(level: str, values: list[float], totals: dict[float, float]) -> Callable[
        [float, float], float]:
    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        return lambda c, k: (c - k) ** 2
    if level != "ordinal":
        raise ValueError(f"unknown level of measurement {level!r}")
    cumulative: dict[float, float] = {}
    running = 0.0
    for v in values:  # sorted
        running += totals[v]
        cumulative[v] = running

    def ordinal(c: float, k: float) -> float:
        lo, hi = (c, k) if c <= k else (k, c)
        between = cumulative[hi] - cumulative[lo] + totals[lo]  # n_g for g in lo..hi
        return (between - (totals[lo] + totals[hi]) / 2) ** 2

    return ordinal


Coincidences = dict[tuple[float, float], float]
"""Krippendorff's coincidence matrix: (value c, value k) -> weight. Matrices of disjoint
sets of units add up, so a project's pooled alpha is the alpha of its tasks' sum."""


def coincidences(units: Iterable[Sequence[float | None]]) -> Coincidences:
    """The coincidence matrix of the units (only units with two or more values pair)."""
    matrix: Coincidences = {}
    for unit in units:
        values = [float(v) for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    matrix[(c, k)] = matrix.get((c, k), 0.0) + 1.0 / (m - 1)
    return matrix


def alpha_of(matrix: Coincidences, level: str = "ordinal") -> float | None:
    """Alpha from a coincidence matrix (None when nothing pairs or nothing varies)."""
    if not matrix:
        return None
    totals: dict[float, float] = {}
    for (c, _k), o in matrix.items():
        totals[c] = totals.get(c, 0.0) + o
    n = sum(totals.values())
    values = sorted(totals)
    delta = _metric(level, values, totals)
    observed = sum(o * delta(c, k) for (c, k), o in matrix.items())
    expected = sum(totals[c] * totals[k] * delta(c, k) for c in values for k in values)
    if expected == 0:
        return None  # every value the same: agreement is not measurable
    return 1.0 - (n - 1) * observed / expected


def krippendorff_alpha(units: Iterable[Sequence[float | None]],
                       level: str = "ordinal") -> float | None:
    """Alpha over units, each the values its coders gave (None: not coded).

    The coincidence-matrix form (Krippendorff 2011, "Computing Krippendorff's
    alpha-reliability"): only units with two or more values are pairable.
    """
    return alpha_of(coincidences(units), level)


# --- Kendall's W -------------------------------------------------------------------------

def midranks(groups: Sequence[Sequence[Hashable]]) -> dict[Hashable, float]:
    """Ranks of a ranking given as groups (best first); a tied group shares its mean rank."""
    out: dict[Hashable, float] = {}
    position = 1
    for group in groups:
        mean = position + (len(group) - 1) / 2
        for item in group:
            out[item] = mean
        position += len(group)
    return out


def kendalls_w(rankings: Sequence[Sequence[Sequence[Hashable]]]) -> float | None:
    """W of m rankings of the same n items, corrected for ties.

    W = 12 S / (m^2 (n^3 - n) - m sum T), S the squared deviations of the items'
    rank sums from their mean, T = sum (t^3 - t) over each ranking's tied groups.
    Rankings over different item sets are cut to the items all of them rank.
    """
    m = len(rankings)
    if m < 2:
        return None
    common = set.intersection(*({i for g in r for i in g} for r in rankings))
    n = len(common)
    if n < 2:
        return None
    sums = dict.fromkeys(common, 0.0)
    ties = 0.0
    for ranking in rankings:
        groups = [[i for i in g if i in common] for g in ranking]
        groups = [g for g in groups if g]
        for item, rank in midranks(groups).items():
            sums[item] += rank
        ties += sum(len(g) ** 3 - len(g) for g in groups)
    mean = m * (n + 1) / 2
    s = sum((r - mean) ** 2 for r in sums.values())
    denominator = m * m * (n ** 3 - n) - m * ties
    if denominator <= 0:
        return None  # every annotator tied everything
    return 12 * s / denominator


def kendalls_tau(a: Sequence[Sequence[Hashable]], b: Sequence[Sequence[Hashable]]) -> float | None:
    """Kendall's tau-b between two rankings given as groups (ties allowed)."""
    ra, rb = midranks(a), midranks(b)
    items = sorted(set(ra) & set(rb), key=str)
    concordant = discordant = ties_a = ties_b = 0
    for x, y in combinations(items, 2):
        da, db = ra[x] - ra[y], rb[x] - rb[y]
        if da == 0 and db == 0:
            continue
        if da == 0:
            ties_a += 1
        elif db == 0:
            ties_b += 1
        elif (da > 0) == (db > 0):
            concordant += 1
        else:
            discordant += 1
    n_a = concordant + discordant + ties_b  # pairs a orders
    n_b = concordant + discordant + ties_a  # pairs b orders
    if n_a == 0 or n_b == 0:
        return None
    return (concordant - discordant) / math.sqrt(n_a * n_b)


# --- findings ----------------------------------------------------------------------------

class FindingLike(Protocol):
    @property
    def candidate_id(self) -> int: ...
    @property
    def file_path(self) -> str: ...
    @property
    def line_start(self) -> int: ...
    @property
    def line_end(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def cwe(self) -> int | None: ...


def same_finding(a: FindingLike, b: FindingLike, *, check_cwe: bool = True) -> bool:
    """The one rule for "these two findings are the same": same candidate and file,
    overlapping line ranges, same category, and the same CWE when both name one."""
    if a.candidate_id != b.candidate_id or a.file_path != b.file_path:
        return False
    if a.category != b.category:
        return False
    if a.line_start > b.line_end or b.line_start > a.line_end:
        return False
    return not (check_cwe and a.cwe is not None and b.cwe is not None and a.cwe != b.cwe)


def overlap_lines(a: FindingLike, b: FindingLike) -> int:
    return max(0, min(a.line_end, b.line_end) - max(a.line_start, b.line_start) + 1)


def match_findings(a: Sequence[FindingLike], b: Sequence[FindingLike], *,
                   check_cwe: bool = True) -> list[tuple[int, int]]:
    """A one-to-one matching (index in a, index in b) of the same findings, largest
    overlap first, so one wide finding cannot stand for several narrow ones."""
    pairs = sorted(
        ((overlap_lines(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
         if same_finding(x, y, check_cwe=check_cwe)),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    out = []
    for _size, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((i, j))
    return sorted(out)


def finding_agreement(per_annotator: Sequence[Sequence[FindingLike]]) -> float | None:
    """Mean over annotator pairs of 2 * matched / (|A| + |B|); 1.0 when both found nothing."""
    if len(per_annotator) < 2:
        return None
    scores = []
    for a, b in combinations(per_annotator, 2):
        if not a and not b:
            scores.append(1.0)
            continue
        scores.append(2 * len(match_findings(a, b)) / (len(a) + len(b)))
    return sum(scores) / len(scores)


# --- a task's annotations as the figures take them -----------------------------------------

@dataclass
class Rated:
    """One annotator's latest submitted annotation of a task, reduced to what agreement reads."""

    user_id: int
    scores: dict[str, dict[str, Any]]
    ranking: list[list[int]]
    display_order: list[int]
    findings: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class TaskAgreement:
    task_id: int
    annotations: int
    alpha: float | None
    w: float | None
    findings: float | None

    def below(self, threshold: float) -> bool:
        return any(v is not None and v < threshold for v in (self.alpha, self.w, self.findings))

    def figures(self) -> list[tuple[str, float | None]]:
        return [("alpha", self.alpha), ("W", self.w), ("findings", self.findings)]


def score_units(rated: Sequence[Rated]) -> list[list[float | None]]:
    """One unit per (candidate, criterion) anyone scored; the annotators' scores in it."""
    keys = sorted({(cid, key) for r in rated for cid, row in r.scores.items() for key in row})
    return [[_number(r.scores.get(cid, {}).get(key)) for r in rated] for cid, key in keys]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def task_agreement(task_id: int, rated: Sequence[Rated]) -> TaskAgreement:
    rankings = [r.ranking for r in rated if r.ranking]
    return TaskAgreement(
        task_id=task_id,
        annotations=len(rated),
        alpha=krippendorff_alpha(score_units(rated)) if len(rated) >= 2 else None,
        w=kendalls_w(rankings) if len(rankings) >= 2 else None,
        findings=finding_agreement([r.findings for r in rated]),
    )


BATCH = 500


def rated_of(user_id: int, scores: dict[str, Any], ranking: Sequence[Sequence[Any]],
             display_order: Sequence[Any], findings: Sequence[Any] = ()) -> Rated:
    """An annotation's columns as the figures take them (as stored: JSON)."""
    return Rated(user_id, dict(scores), [[int(c) for c in g] for g in ranking],
                 [int(c) for c in display_order], list(findings))


def rated_by_task(session: Session, project: Project,
                  task_ids: Sequence[int] | None = None) -> Iterator[tuple[int, list[Rated]]]:
    """(task id, latest annotation of each submitted assignment) for tasks with any,
    a batch of tasks at a time (two queries a batch)."""
    if task_ids is None:
        task_ids = list(session.scalars(
            select(Assignment.task_id).where(Assignment.project_id == project.id,
                                             Assignment.state == "submitted")
            .distinct().order_by(Assignment.task_id)))
    for start in range(0, len(task_ids), BATCH):
        chunk = list(task_ids[start:start + BATCH])
        latest = (
            select(Annotation.assignment_id, func.max(Annotation.version).label("v"))
            .join(Assignment, Assignment.id == Annotation.assignment_id)
            .where(Assignment.task_id.in_(chunk), Assignment.project_id == project.id)
            .group_by(Annotation.assignment_id)
            .subquery()
        )
        rows = session.execute(
            select(Annotation, Assignment.task_id, Assignment.user_id)
            .join(latest, (latest.c.assignment_id == Annotation.assignment_id)
                  & (latest.c.v == Annotation.version))
            .join(Assignment, Assignment.id == Annotation.assignment_id)
            .order_by(Assignment.task_id, Assignment.user_id)
        ).all()
        by_annotation: dict[int, Rated] = {}
        by_task: dict[int, list[Rated]] = {}
        for annotation, task_id, user_id in rows:
            rated = rated_of(user_id, annotation.scores, annotation.ranking,
                             annotation.display_order)
            by_annotation[annotation.id] = rated
            by_task.setdefault(task_id, []).append(rated)
        if by_annotation:
            for finding in session.scalars(
                    select(Finding).where(Finding.annotation_id.in_(list(by_annotation)))):
                by_annotation[finding.annotation_id].findings.append(finding)
        yield from sorted(by_task.items())


@dataclass
class ProjectAgreement:
    tasks: int = 0
    alpha: float | None = None
    w_mean: float | None = None
    findings_mean: float | None = None
    per_task: list[TaskAgreement] = field(default_factory=list)


def _mean(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def project_agreement(session: Session, project: Project) -> ProjectAgreement:
    """Alpha pooled over every unit of the project's tasks with two or more annotations;
    W and finding agreement as means of the per-task figures."""
    units: list[list[float | None]] = []
    per_task: list[TaskAgreement] = []
    for task_id, rated in rated_by_task(session, project):
        if len(rated) < 2:
            continue
        per_task.append(task_agreement(task_id, rated))
        units.extend(score_units(rated))
    return ProjectAgreement(
        tasks=len(per_task),
        alpha=krippendorff_alpha(units),
        w_mean=_mean(t.w for t in per_task),
        findings_mean=_mean(t.findings for t in per_task),
        per_task=per_task,
    )


def threshold_of(project: Project) -> float:
    value = (project.settings or {}).get("agreement_threshold")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return DEFAULT_THRESHOLD

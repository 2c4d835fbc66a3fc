"""Annotation versions read in id order, in batches, with everything a record needs.

Constant memory: one batch of annotations (BATCH rows) and the tasks and
candidates it mentions are held at a time; nothing grows with the project.
Keyset pagination on the annotation id (which only grows) serves both the
exports and the API's `since` cursor: a page is one range of the (project_id, id)
index on annotations (migration 0007), whatever the project's size.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, case, cast, exists, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from harness import settings
from harness.exports.tasks import TaskInfo, TaskLoader, decode_all
from harness.models import (
    Adjudication,
    Annotation,
    Assignment,
    Finding,
    HintVerdict,
    Project,
    Rubric,
    Task,
    User,
)

BATCH = 1000


@dataclass
class AnnotationRow:
    """One annotation version with its task, candidates, findings and hint verdicts."""

    id: int
    assignment_id: int
    version: int
    latest: bool
    user_id: int
    annotator: str  # hashed
    simulated: bool
    rubric: str
    rubric_version: str
    scores: dict[str, Any]
    ranking: list[list[int]]
    rationale: str
    confidence: int | None
    display_order: list[int]
    active_seconds: float
    hints_visible: bool
    submitted_at: datetime
    task: TaskInfo
    findings: list[dict[str, Any]] = field(default_factory=list)
    hint_verdicts: list[dict[str, Any]] = field(default_factory=list)

    def model_of(self, candidate_id: int) -> str:
        return self.task.model_of(candidate_id)


def annotator_hash(session: Session, project: Project, user_id: int) -> str:
    """A stable pseudonym of an annotator within a project (HMAC with the secret key)."""
    found = settings.of(session)
    if found is None:  # no fixed fallback: pseudonyms anyone could reverse by trying ids
        raise RuntimeError("annotator pseudonyms need the secret key: open the session with "
                           "harness.db.make_sessionmaker(engine, settings)")
    key = found.secret_key.encode()
    return hmac.new(key, f"annotator:{project.id}:{user_id}".encode(),
                    hashlib.sha256).hexdigest()[:16]


def _latest_version() -> Any:
    other = aliased(Annotation)
    return (select(func.max(other.version)).where(other.assignment_id == Annotation.assignment_id)
            .correlate(Annotation).scalar_subquery())


def _adjudicated() -> Any:
    """True where the annotation's task has an adjudication (correlated on Assignment)."""
    return exists(select(Adjudication.id).where(Adjudication.task_id == Assignment.task_id))


def count(session: Session, project: Project, *, latest_only: bool = False,
          skip_adjudicated: bool = False) -> int:
    query = (select(func.count(Annotation.id))
             .join(Assignment, Assignment.id == Annotation.assignment_id)
             .where(Annotation.project_id == project.id))
    if latest_only:
        query = query.where(Annotation.version == _latest_version())
    if skip_adjudicated:
        query = query.where(~_adjudicated())
    return int(session.scalar(query) or 0)


Row = tuple[int, int, int, int, dict[str, Any], list[list[int]], str, "int | None", list[int],
            float, bool, datetime, int, int, bool, bool]
"""One annotation version as a batch holds it: (id, assignment_id, version, rubric_id,
scores, ranking, rationale, confidence, display_order, active_seconds, hints_visible,
submitted_at, task_id, user_id, simulated, latest). A plain tuple: building an object per
version was a large part of an export's time."""

FindingRow = tuple[int, str, int, int, str, str, "int | None", str, str]
"""(candidate_id, file_path, line_start, line_end, category, severity, cwe, comment,
content_hash), in the order of the finding ids."""

VerdictRow = tuple[int, str, str, str]
"""(candidate_id, hint_key, rule_id, verdict), in the order of the verdict ids."""


@dataclass
class Batch:
    """Up to BATCH annotation versions (in id order) with what their records need."""

    rows: list[Row]
    tasks: dict[int, TaskInfo]
    annotators: dict[int, str]
    """user id -> hashed annotator id"""
    rubrics: dict[int, tuple[str, str]]
    """rubric id -> (name, version)"""
    findings: dict[int, list[FindingRow]]
    verdicts: dict[int, list[VerdictRow]]
    records: dict[int, str] = field(default_factory=dict)
    """With `records`: annotation id -> the version's stored record body
    (harness/records.py). Such a row carries no details (empty scores, ranking, order;
    no findings nor verdicts): its body holds them."""


def _in_batch(column: Any, contiguous: bool) -> Any:
    """The rows of a batch's annotations (`column` is their annotation id; the statement
    joins Annotation). A contiguous batch (every annotation of the project from its first
    id to its last, which is what a read without filters gives) is one range of the
    (project_id, id) index, parameters `project`, `first` and `last`: no IN list of up to
    BATCH parameters to expand and bind. Otherwise the ids, parameter `ids`."""
    if contiguous:
        return (column.between(bindparam("first"), bindparam("last"))
                & (Annotation.project_id == bindparam("project")))
    return column.in_(bindparam("ids", expanding=True))


def _batch_params(ids: list[int], project: Project, contiguous: bool) -> dict[str, Any]:
    if contiguous:
        return {"first": ids[0], "last": ids[-1], "project": project.id}
    return {"ids": ids}


# The statements are built once per shape (and dialect) and given their values as
# parameters: building a select with its subqueries and functions took longer than
# SQLite took to run it, a few milliseconds a page of the API.

@functools.cache
def _versions_statement(latest_only: bool, with_details: bool, by_task: bool,
                        skip_adjudicated: bool, records: bool = False) -> Any:
    """A batch's annotation versions: parameters `project`, `after`, `size` (and the
    expanding `task_ids` with by_task). The stored record body last (NULL without
    `records`); with `records`, the details (which the body holds) only for a version
    without one: reading and converting them was a fifth of the jsonl export's time."""

    def detail(column: Any) -> Any:
        return case((Annotation.record.is_(None), column)) if records else column

    if with_details:
        details: tuple[Any, ...] = (
            detail(cast(Annotation.scores, Text)), detail(Annotation.rationale),
            Annotation.confidence, detail(cast(Annotation.display_order, Text)))
    else:
        details = (literal_column("NULL"), literal_column("''"), literal_column("NULL"),
                   literal_column("NULL"))
    query = (
        select(Annotation.id, Annotation.assignment_id, Annotation.version,
               Annotation.rubric_id, detail(cast(Annotation.ranking, Text)), *details,
               Annotation.active_seconds, Annotation.hints_visible,
               detail(Annotation.submitted_at),
               Assignment.task_id, Assignment.user_id, User.simulated,
               literal_column("NULL") if latest_only else _latest_version(),
               Annotation.record if records else literal_column("NULL"))
        .join(Assignment, Assignment.id == Annotation.assignment_id)
        .join(User, User.id == Assignment.user_id)
        .where(Annotation.project_id == bindparam("project"), Annotation.id > bindparam("after"))
        .order_by(Annotation.id)
        .limit(bindparam("size"))
    )
    if latest_only:
        query = query.where(Annotation.version == _latest_version())
    if by_task:
        query = query.where(Assignment.task_id.in_(bindparam("task_ids", expanding=True)))
    if skip_adjudicated:
        query = query.where(~_adjudicated())
    return query


@functools.cache
def _findings_statement(contiguous: bool) -> Any:
    return (select(Finding.annotation_id, Finding.candidate_id, Finding.file_path,
                   Finding.line_start, Finding.line_end, Finding.category, Finding.severity,
                   Finding.cwe, Finding.comment, Finding.content_hash)
            .join(Annotation, Annotation.id == Finding.annotation_id)
            .where(_in_batch(Finding.annotation_id, contiguous))
            .order_by(Annotation.id, Finding.id))


@functools.cache
def _verdicts_statement(contiguous: bool) -> Any:
    return (select(HintVerdict.annotation_id, HintVerdict.candidate_id, HintVerdict.hint_key,
                   HintVerdict.rule_id, HintVerdict.verdict)
            .join(Annotation, Annotation.id == HintVerdict.annotation_id)
            .where(_in_batch(HintVerdict.annotation_id, contiguous))
            .order_by(Annotation.id, HintVerdict.id))


_RUBRICS = select(Rubric.id, Rubric.name, Rubric.version)


def iter_batches(
    session: Session,
    project: Project,
    *,
    after_id: int = 0,
    limit: int | None = None,
    latest_only: bool = False,
    with_runs: bool = True,
    task_ids: Sequence[int] | None = None,
    with_files: bool = True,
    with_details: bool = True,
    records: bool = False,
    skip_adjudicated: bool = False,
    batch: int | None = None,
    pseudonyms: bool = True,
) -> Iterator[Batch]:
    """The project's annotation versions with id > after_id, in id order, a batch at a time
    (of `task_ids` only, when given; without the tasks a lead has adjudicated, with
    skip_adjudicated). Without `with_details` a batch has no scores, display order,
    rationale, findings nor hint verdicts (empty values), for the formats built from
    rankings alone. With `records`, each version's stored record body comes instead of
    its details (Batch.records); a version without one comes with its details, as without
    `records`, for its body to be built (harness/records.py).

    Read through the Core: the JSON columns come as their stored text and are decoded
    once per batch; the newest version of each assignment comes with each row (an index
    lookup in the same statement); the findings and hint verdicts of a batch read without
    filters are one range of annotation ids (`_in_batch`). Without `pseudonyms` a batch
    names no annotator (Batch.annotators is empty): for a reader that writes the record
    bodies, which hold none, in a session that may have no secret key."""
    size_cap = batch or BATCH
    tasks = TaskLoader(session, project, with_runs, with_files)
    # The Core connection: session.execute adds the ORM's per-row work to plain selects.
    conn = session.connection()
    rubrics: dict[int, tuple[str, str]] = {
        rid: (name, version) for rid, name, version in conn.execute(_RUBRICS)}
    named: dict[int, str] = {}
    contiguous = not latest_only and task_ids is None and not skip_adjudicated
    statement = _versions_statement(latest_only, with_details, task_ids is not None,
                                    skip_adjudicated, records)
    params: dict[str, Any] = {"project": project.id}
    if task_ids is not None:
        params["task_ids"] = list(task_ids)
    last = after_id
    left = limit
    while left is None or left > 0:
        size = size_cap if left is None else min(size_cap, left)
        raw = conn.execute(statement, params | {"after": last, "size": size}).all()
        if not raw:
            return
        ids = [r[0] for r in raw]
        for user_id in {r[13] for r in raw} - named.keys() if pseudonyms else ():
            named[user_id] = annotator_hash(session, project, user_id)
        stored: dict[int, str] = (
            {r[0]: r[16] for r in raw if r[16] is not None} if records else {})
        # the versions whose details are read: all, or those without a stored body
        detailed = [r for r in raw if r[0] not in stored] if stored else raw
        n = len(detailed)
        findings: dict[int, list[FindingRow]] = {}
        verdicts: dict[int, list[VerdictRow]] = {}
        if with_details:
            decoded = decode_all([r[4] for r in detailed] + [r[5] for r in detailed]
                                 + [r[8] for r in detailed])
            rankings, scores, orders = decoded[:n], decoded[n:2 * n], decoded[2 * n:]
            if n:
                whole = n == len(raw)
                in_batch = _batch_params(ids if whole else [r[0] for r in detailed], project,
                                         contiguous and whole)
                for f in conn.execute(_findings_statement(contiguous and whole),
                                      in_batch).all():
                    findings.setdefault(f[0], []).append(f[1:])
                for v in conn.execute(_verdicts_statement(contiguous and whole),
                                      in_batch).all():
                    verdicts.setdefault(v[0], []).append(v[1:])
        else:
            rankings = decode_all([r[4] for r in detailed])
            scores = orders = [None] * n
        per: Iterable[tuple[Any, Any, Any]] = zip(scores, rankings, orders, strict=True)
        if detailed is not raw:
            found = dict(zip([r[0] for r in detailed], per, strict=True))
            per = [found.get(aid, _NO_DETAILS) for aid in ids]
        # Rows are unpacked by name: a starred target or a slice costs SQLAlchemy's Row 3 µs.
        rows: list[Row] = [
            (aid, assignment_id, version, rubric_id, score or {}, ranking or [],
             rationale or "", confidence, order or [], float(active_seconds or 0.0),
             hints_visible, submitted_at, task_id, user_id, bool(simulated),
             latest_only or version == newest)
            for (aid, assignment_id, version, rubric_id, _, _, rationale, confidence, _,
                 active_seconds, hints_visible, submitted_at, task_id, user_id, simulated,
                 newest, _),
            (score, ranking, order) in zip(raw, per, strict=True)]
        yield Batch(rows, tasks.load(r[12] for r in raw), named, rubrics, findings,
                    verdicts, stored)
        last = ids[-1]
        if left is not None:
            left -= len(raw)
        if len(raw) < size:
            return


_NO_DETAILS: tuple[Any, Any, Any] = (None, None, None)


def iter_annotations(
    session: Session,
    project: Project,
    *,
    after_id: int = 0,
    limit: int | None = None,
    latest_only: bool = False,
    with_runs: bool = True,
    task_ids: Sequence[int] | None = None,
    with_files: bool = True,
    skip_adjudicated: bool = False,
    batch: int | None = None,
) -> Iterator[AnnotationRow]:
    """iter_batches, a version at a time as an AnnotationRow."""
    for found in iter_batches(session, project, after_id=after_id, limit=limit,
                              latest_only=latest_only, with_runs=with_runs, task_ids=task_ids,
                              with_files=with_files, skip_adjudicated=skip_adjudicated,
                              batch=batch):
        yield from annotation_rows(found)


def annotation_rows(found: Batch) -> Iterator[AnnotationRow]:
    """A batch's versions as AnnotationRows (findings and hint verdicts as dicts), for the
    formats that are not on a hot path (ratings, kto, battles, sarif)."""
    for (aid, assignment_id, version, rubric_id, scores, ranking, rationale, confidence,
         display_order, active_seconds, hints_visible, submitted_at, task_id, user_id,
         simulated, latest) in found.rows:
        name, rubric_version = found.rubrics.get(rubric_id, ("", ""))
        yield AnnotationRow(
            id=aid, assignment_id=assignment_id, version=version, latest=latest,
            user_id=user_id, annotator=found.annotators[user_id], simulated=simulated,
            rubric=name, rubric_version=rubric_version, scores=scores, ranking=ranking,
            rationale=rationale, confidence=confidence, display_order=display_order,
            active_seconds=active_seconds, hints_visible=hints_visible,
            submitted_at=submitted_at, task=found.tasks[task_id],
            findings=[dict(zip(FINDING_FIELDS, f, strict=True))
                      for f in found.findings.get(aid, [])],
            hint_verdicts=[dict(zip(VERDICT_FIELDS, v, strict=True))
                           for v in found.verdicts.get(aid, [])],
        )


FINDING_FIELDS = ("candidate_id", "file_path", "line_start", "line_end", "category",
                  "severity", "cwe", "comment", "content_hash")
VERDICT_FIELDS = ("candidate_id", "hint_key", "rule_id", "verdict")


def by_task(session: Session, project: Project, *, latest_only: bool = True,
            with_runs: bool = False, tasks_per_batch: int = 200
            ) -> Iterator[tuple[TaskInfo, list[AnnotationRow]]]:
    """Each task (in id order) with all its annotations: for what needs every
    annotator's view of a task at once (agreement). Holds one batch of tasks."""
    last = 0
    while True:
        ids = list(session.scalars(
            select(Task.id).where(Task.project_id == project.id, Task.id > last)
            .order_by(Task.id).limit(tasks_per_batch)))
        if not ids:
            return
        grouped: dict[int, list[AnnotationRow]] = {}
        infos: dict[int, TaskInfo] = {}
        for row in iter_annotations(session, project, latest_only=latest_only, with_runs=with_runs,
                               task_ids=ids):
            grouped.setdefault(row.task.id, []).append(row)
            infos[row.task.id] = row.task
        for task_id in ids:
            if task_id in grouped:
                yield infos[task_id], grouped[task_id]
        last = ids[-1]

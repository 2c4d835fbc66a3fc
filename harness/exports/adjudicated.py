"""Adjudicated results as the exports and the API read them: a lead's final ranking and
findings for a task (harness.adjudication), with the task's candidates and provenance.

The rule the exports follow (one place, `Exporter.adjudications`): where a task has
been adjudicated, the formats built from rankings and findings (preferences, battles,
rankings, sarif) use its final result *instead of* the task's annotations; the raw
`jsonl` keeps every annotation version and adds one record per adjudicated result;
ratings and kto come from scores, which adjudication does not record, so they always
come from the annotations. Every record says where it came from in `source`
("annotations" or "adjudicated").

Read in task order, a batch of tasks at a time (one adjudication per task, so the
task id is the key); memory does not grow with the project.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.exports.source import BATCH, annotator_hash
from harness.exports.tasks import TaskInfo, TaskLoader
from harness.models import Adjudication, Annotation, Assignment, Finding, Project, User

ANNOTATIONS = "annotations"
ADJUDICATED = "adjudicated"


@dataclass
class AdjudicatedRow:
    """One task's adjudicated result."""

    id: int
    task: TaskInfo
    ranking: list[list[int]]
    findings: list[dict[str, Any]]
    notes: str
    adjudicator: str | None  # hashed, like annotators
    updated_at: datetime
    annotation_ids: list[int]
    """The annotation versions the lead was shown when adjudicating."""
    annotators: int
    """How many annotators' latest versions the result replaces (at least 1): the weight
    the task keeps in the rankings fit, so adjudicating changes what a task says, not
    how much it counts."""
    simulated: bool
    """True when every annotation it was made from is simulated."""

    def model_of(self, candidate_id: int) -> str:
        return self.task.model_of(candidate_id)


def count(session: Session, project: Project) -> int:
    return int(session.scalar(select(func.count(Adjudication.id))
                              .where(Adjudication.project_id == project.id)) or 0)


def iter_adjudicated(session: Session, project: Project, *, after_task_id: int = 0,
                     limit: int | None = None, with_runs: bool = False,
                     with_files: bool = True, batch: int = BATCH) -> Iterator[AdjudicatedRow]:
    """The project's adjudicated results for tasks with id > after_task_id, in task order."""
    tasks = TaskLoader(session, project, with_runs, with_files)
    annotators = (select(func.count(func.distinct(Annotation.assignment_id)))
                  .join(Assignment, Assignment.id == Annotation.assignment_id)
                  .where(Assignment.task_id == Adjudication.task_id)
                  .correlate(Adjudication).scalar_subquery())
    last = after_task_id
    left = limit
    while left is None or left > 0:
        size = batch if left is None else min(batch, left)
        rows = session.execute(
            select(Adjudication, annotators.label("annotators"))
            .where(Adjudication.project_id == project.id, Adjudication.task_id > last)
            .order_by(Adjudication.task_id).limit(size)).all()
        if not rows:
            return
        infos = tasks.load([a.task_id for a, _ in rows])
        made_from = {i for a, _ in rows for i in a.annotation_ids or []}
        simulated: dict[int, bool] = {i: bool(s) for i, s in session.execute(
            select(Annotation.id, User.simulated)
            .join(Assignment, Assignment.id == Annotation.assignment_id)
            .join(User, User.id == Assignment.user_id)
            .where(Annotation.id.in_(made_from)))} if made_from else {}
        merged = {i for a, _ in rows for f in a.findings or [] for i in f.get("merged_from", [])}
        finding_annotation: dict[int, int] = {i: a for i, a in session.execute(
            select(Finding.id, Finding.annotation_id).where(Finding.id.in_(merged)))
            } if merged else {}
        pseudonyms: dict[int, str] = {}
        for a, n in rows:
            if a.user_id is not None and a.user_id not in pseudonyms:
                pseudonyms[a.user_id] = annotator_hash(session, project, a.user_id)
            ids = [int(i) for i in a.annotation_ids or []]
            findings = []
            for f in a.findings or []:
                found = dict(f)
                found["from_annotations"] = sorted({
                    finding_annotation[i] for i in found.pop("merged_from", [])
                    if i in finding_annotation})
                findings.append(found)
            yield AdjudicatedRow(
                id=a.id, task=infos[a.task_id], ranking=[list(g) for g in a.ranking or []],
                findings=findings, notes=a.notes or "",
                adjudicator=pseudonyms.get(a.user_id) if a.user_id is not None else None,
                updated_at=a.updated_at, annotation_ids=ids, annotators=max(1, int(n or 0)),
                simulated=bool(ids) and all(simulated.get(i, False) for i in ids))
        last = rows[-1][0].task_id
        if left is not None:
            left -= len(rows)
        if len(rows) < size:
            return


def adjudication_record(row: AdjudicatedRow) -> dict[str, Any]:
    """One adjudicated result as the API and the jsonl export give it (labels, not ids)."""
    cands = row.task.candidates

    def label(cid: Any) -> str:
        cand = cands.get(int(cid))
        return cand.label if cand is not None else str(cid)

    return {
        "source": ADJUDICATED,
        "task_id": row.task.external_id,
        "is_gold": row.task.is_gold,
        "adjudicator": row.adjudicator,
        "updated_at": row.updated_at.isoformat(),
        "ranking": [[label(c) for c in group] for group in row.ranking],
        "findings": [{k: v for k, v in f.items() if k != "candidate_id"}
                     | {"candidate": label(f["candidate_id"])} for f in row.findings],
        "notes": row.notes,
        "annotation_ids": row.annotation_ids,
        "simulated": row.simulated,
        "candidates": [
            {"label": c.label, "model": c.model, "content_hash": c.content_hash, "run": c.run}
            for c in cands.values()
        ],
    }

"""jsonl: every annotation version with its full provenance, then each adjudicated
result (`"source": "adjudicated"`; the annotation versions carry `"source": "annotations"`).

`annotation_lines` is the one definition of an annotation version's record, for this
export and the lab API's annotation pages alike. It writes each record's JSON text from a
batch's plain rows: one encoder call per version, with the task's candidates (the same
for every version of a task) encoded once per task and spliced in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from harness.exports.adjudicated import ANNOTATIONS, adjudication_record
from harness.exports.base import Exporter, Progress, dumps, fast_dumps
from harness.exports.source import Batch
from harness.exports.tasks import TaskInfo
from harness.models import Project


class _TaskText:
    """What every version of one task shares: candidate id -> label, and the encoded
    `candidates` member."""

    __slots__ = ("labels", "candidates")

    def __init__(self, task: TaskInfo) -> None:
        self.labels: dict[Any, str] = {}
        for cid, cand in task.candidates.items():
            self.labels[cid] = self.labels[str(cid)] = cand.label
        self.candidates = ',"candidates":' + dumps([
            {"label": c.label, "model": c.model, "content_hash": c.content_hash, "run": c.run}
            for c in task.candidates.values()]) + "}"


def _label(task: TaskInfo, cid: Any) -> str:
    """A candidate's label from its id (int or text); the id itself if it is not one of
    the task's candidates."""
    cand = task.candidates.get(int(cid))
    return cand.label if cand is not None else str(cid)


def annotation_lines(batch: Batch) -> Iterator[tuple[int, str]]:
    """(annotation id, the record's JSON text) for each version of a batch read with
    `findings_json` (each finding's object is made by the database,
    source._finding_json)."""
    shared = {tid: _TaskText(task) for tid, task in batch.tasks.items()}
    findings, verdicts = batch.finding_texts, batch.verdicts
    if findings is None:
        raise ValueError("annotation_lines needs a batch read with findings_json")
    for (aid, assignment_id, version, rubric_id, scores, ranking, rationale, confidence,
         display_order, active_seconds, hints_visible, submitted_at, task_id, user_id,
         simulated, latest) in batch.rows:
        task = batch.tasks[task_id]
        text = shared[task_id]
        lab = text.labels
        cands = task.candidates
        rubric, rubric_version = batch.rubrics.get(rubric_id, ("", ""))
        head = fast_dumps({
            "source": ANNOTATIONS,
            "id": aid,
            "assignment_id": assignment_id,
            "version": version,
            "latest": latest,
            "task_id": task.external_id,
            "is_gold": task.is_gold,
            "annotator": batch.annotators[user_id],
            "simulated": simulated,
            "rubric": rubric,
            "rubric_version": rubric_version,
            "submitted_at": submitted_at.isoformat(),
            "active_seconds": round(active_seconds, 3),
            "display_order": [cands[c].label for c in display_order if c in cands],
            "hints_visible": hints_visible,
            "scores": {lab.get(c) or _label(task, c): s for c, s in scores.items()},
            "ranking": [[lab.get(c) or _label(task, c) for c in group] for group in ranking],
            "rationale": rationale,
            "confidence": confidence,
        })
        marks = verdicts.get(aid)
        yield aid, "".join((
            head[:-1], ',"findings":', findings.get(aid, "[]"), ',"hint_verdicts":',
            fast_dumps([{"candidate": lab.get(cid) or _label(task, cid), "hint_key": key,
                         "rule_id": rule, "verdict": verdict}
                        for cid, key, rule, verdict in marks])
            if marks else "[]", text.candidates))


class Jsonl(Exporter):
    name = "jsonl"
    tabular = False
    latest_only: ClassVar[bool] = False
    with_runs = True
    with_files = False
    adjudications = "append"
    findings_json = True

    def lines(self, session: Session, project: Project,
              progress: Progress | None = None) -> Iterator[str]:
        for found in self.batches(session, project, progress):
            for _, text in annotation_lines(found):
                yield text
        for final in self.finals(session, project, progress):
            yield dumps(adjudication_record(final))

    def records(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        for line in self.lines(session, project, progress):
            yield json.loads(line)

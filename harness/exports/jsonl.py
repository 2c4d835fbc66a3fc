"""jsonl: every annotation version with its full provenance, then each adjudicated
result (`"source": "adjudicated"`; the annotation versions carry `"source": "annotations"`).

`annotation_lines` writes an annotation version's record, for this export and the lab
API's annotation pages alike: its head, its body as stored at submit (harness/records.py
defines both) and the task's candidates with their runs (the same for every version of a
task), encoded once per task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from harness import collector
from harness.exports import source
from harness.exports.adjudicated import ANNOTATIONS, adjudication_record
from harness.exports.base import Exporter, Progress, dumps, fast_dumps
from harness.exports.source import Batch, Row
from harness.exports.tasks import TaskInfo
from harness.models import Annotation, Project
from harness.records import record_body


class _TaskText:
    """What every version of one task shares: candidate id -> label, the head's task
    members and the encoded `candidates` member that ends the record."""

    __slots__ = ("labels", "task", "candidates")

    def __init__(self, task: TaskInfo) -> None:
        self.labels: dict[Any, str] = {cid: cand.label for cid, cand in task.candidates.items()}
        self.task = (',"task_id":' + fast_dumps(task.external_id) + ',"is_gold":'
                     + ("true" if task.is_gold else "false") + ',"annotator":"')
        # the run summaries hold texts only (exports/tasks.run_summary): no float to write
        self.candidates = ',"candidates":' + fast_dumps([
            {"label": c.label, "model": c.model, "content_hash": c.content_hash, "run": c.run}
            for c in task.candidates.values()]) + "}"


_SOURCE = '{"source":' + dumps(ANNOTATIONS) + ',"id":'


def annotation_lines(batch: Batch) -> Iterator[tuple[int, str]]:
    """(annotation id, the record's JSON text) for each version of a batch read with
    `records`: the head, the stored body (harness/records.py; built here from the
    version's details when it has none) and the task's candidates."""
    shared = {tid: _TaskText(task) for tid, task in batch.tasks.items()}
    stored = batch.records
    for row in batch.rows:
        aid, assignment_id, version, _, _, _, _, _, _, _, _, _, task_id, user_id, simulated, \
            latest = row
        text = shared[task_id]
        body = stored.get(aid)
        if body is None:
            body = _body(batch, row, text.labels)
        yield aid, (
            f'{_SOURCE}{aid},"assignment_id":{assignment_id},"version":{version},"latest":'
            f'{"true" if latest else "false"}{text.task}{batch.annotators[user_id]}'
            f'","simulated":{"true" if simulated else "false"},{body}{text.candidates}')


def _body(batch: Batch, row: Row, labels: dict[Any, str]) -> str:
    """The stored body's text, built from a version's details (one without a body)."""
    (aid, _, _, rubric_id, scores, ranking, rationale, confidence, display_order,
     active_seconds, hints_visible, submitted_at, *_) = row
    rubric, rubric_version = batch.rubrics.get(rubric_id, ("", ""))
    return record_body(
        labels=labels, rubric=rubric, rubric_version=rubric_version,
        submitted_at=submitted_at, active_seconds=active_seconds,
        display_order=display_order, hints_visible=hints_visible, scores=scores,
        ranking=ranking, rationale=rationale, confidence=confidence,
        findings=batch.findings.get(aid, ()), verdicts=batch.verdicts.get(aid, ()))


def count_missing_records(session: Session) -> int:
    """How many annotation versions have no stored record body (`fill_missing_records`)."""
    return int(session.scalar(select(func.count()).where(Annotation.record.is_(None))) or 0)


def fill_missing_records(session: Session) -> int:
    """Store the record body of every version that has none (versions submitted before
    migration 0012, or written by something other than submit); how many were filled.
    harness.setup.migrate runs it after an upgrade. Reads go on working without it."""
    filled = 0
    projects = select(Project).where(Project.id.in_(
        select(Annotation.project_id).where(Annotation.record.is_(None))))
    for project in session.scalars(projects).all():
        for found in source.iter_batches(session, project, with_runs=False, with_files=False,
                                         records=True, pseudonyms=False):
            labels = {tid: {cid: c.label for cid, c in task.candidates.items()}
                      for tid, task in found.tasks.items()}
            bodies = [{"id": row[0], "record": _body(found, row, labels[row[12]])}
                      for row in found.rows if row[0] not in found.records]
            if bodies:
                session.execute(update(Annotation), bodies)
                filled += len(bodies)
    return filled


class Jsonl(Exporter):
    name = "jsonl"
    tabular = False
    latest_only: ClassVar[bool] = False
    with_runs = True
    with_files = False
    adjudications = "append"
    stored_records = True

    def _batch_texts(self, session: Session, project: Project,
                     progress: Progress | None) -> Iterator[list[str]]:
        """Each batch's records, read and made with the collector paused
        (harness/collector.py: it took a fifth of the export) and handed out with it on."""
        made = ([text for _, text in annotation_lines(found)]
                for found in self.batches(session, project, progress))
        for taken in collector.in_pauses(made, 1):
            yield from taken

    def lines(self, session: Session, project: Project,
              progress: Progress | None = None) -> Iterator[str]:
        for texts in self._batch_texts(session, project, progress):
            yield from texts
        for final in self.finals(session, project, progress):
            yield dumps(adjudication_record(final))

    def stream(self, session: Session, project: Project,
               progress: Progress | None = None) -> Iterator[bytes]:
        """A batch's records as one chunk (1,000 lines, ~2 MB): a line at a time through
        Exporter.stream's buffer was a tenth of the export. Then the adjudicated results."""
        for texts in self._batch_texts(session, project, progress):
            if texts:
                texts.append("")
                yield "\n".join(texts).encode()
        finals = self.finals(session, project, progress)
        yield from Exporter.stream_lines(dumps(adjudication_record(final)) for final in finals)

    def records(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        for line in self.lines(session, project, progress):
            yield json.loads(line)

"""battles: arena-style records, one per pair of candidates an annotator ranked
(model_a, model_b in display order; winner model_a, model_b or tie). An adjudicated
task gives its final ranking's battles once (candidates in task order), instead of
each annotator's; `source` says which."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from harness.exports.adjudicated import ADJUDICATED, ANNOTATIONS, AdjudicatedRow
from harness.exports.base import Exporter
from harness.exports.source import AnnotationRow
from harness.exports.tasks import TaskInfo
from harness.models import Project


def rank_of(ranking: list[list[int]]) -> dict[int, int]:
    return {cid: i for i, group in enumerate(ranking) for cid in group}


def battle_records(task: TaskInfo, ranking: list[list[int]], order: Sequence[int],
                   when: datetime, provenance: dict[str, Any]) -> Iterator[dict[str, Any]]:
    rank = rank_of(ranking)
    shown = [c for c in order if c in rank and c in task.candidates]
    for i, a in enumerate(shown):
        for b in shown[i + 1:]:
            winner = ("tie" if rank[a] == rank[b]
                      else "model_a" if rank[a] < rank[b] else "model_b")
            yield {
                "model_a": task.model_of(a),
                "model_b": task.model_of(b),
                "winner": winner,
                "task_id": task.external_id,
                "candidate_a": task.candidates[a].label,
                "candidate_b": task.candidates[b].label,
            } | provenance | {"tstamp": when.timestamp()}


class Battles(Exporter):
    name = "battles"
    with_files = False

    def from_annotation(self, session: Session, project: Project,
                        row: AnnotationRow) -> Iterator[dict[str, Any]]:
        yield from battle_records(row.task, row.ranking, row.display_order, row.submitted_at, {
            "source": ANNOTATIONS, "annotation_id": row.id, "annotator": row.annotator,
            "adjudicator": None, "simulated": row.simulated})

    def from_adjudication(self, session: Session, project: Project,
                          row: AdjudicatedRow) -> Iterator[dict[str, Any]]:
        yield from battle_records(row.task, row.ranking, list(row.task.candidates),
                                  row.updated_at, {
            "source": ADJUDICATED, "annotation_id": None, "annotator": None,
            "adjudicator": row.adjudicator, "simulated": row.simulated})

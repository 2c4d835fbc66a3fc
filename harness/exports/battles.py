"""battles: arena-style records, one per pair of candidates an annotator ranked
(model_a, model_b in display order; winner model_a, model_b or tie)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from harness.exports.base import Exporter
from harness.exports.source import AnnotationRow
from harness.models import Project


def rank_of(ranking: list[list[int]]) -> dict[int, int]:
    return {cid: i for i, group in enumerate(ranking) for cid in group}


class Battles(Exporter):
    name = "battles"
    with_files = False

    def from_annotation(self, session: Session, project: Project,
                        row: AnnotationRow) -> Iterator[dict[str, Any]]:
        rank = rank_of(row.ranking)
        shown = [c for c in row.display_order if c in rank and c in row.task.candidates]
        for i, a in enumerate(shown):
            for b in shown[i + 1:]:
                winner = ("tie" if rank[a] == rank[b]
                          else "model_a" if rank[a] < rank[b] else "model_b")
                yield {
                    "model_a": row.model_of(a),
                    "model_b": row.model_of(b),
                    "winner": winner,
                    "task_id": row.task.external_id,
                    "candidate_a": row.task.candidates[a].label,
                    "candidate_b": row.task.candidates[b].label,
                    "annotation_id": row.id,
                    "annotator": row.annotator,
                    "simulated": row.simulated,
                    "tstamp": row.submitted_at.timestamp(),
                }

"""preferences: (prompt, chosen, rejected) for every ordered pair of a ranking.

The columns TRL's RewardTrainer and DPOTrainer read as they are (`prompt`,
`chosen`, `rejected`, and `margin` for the reward trainer), with the rank gap
as the margin. Candidates in one rank group are tied and never form a pair.
An adjudicated task gives its final ranking's pairs once, instead of each annotator's
(`source` says which; exports/adjudicated.py has the rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from harness.exports.adjudicated import ADJUDICATED, ANNOTATIONS, AdjudicatedRow
from harness.exports.base import Exporter
from harness.exports.source import AnnotationRow, TaskInfo
from harness.models import Project


def ordered_pairs(ranking: list[list[int]]) -> Iterator[tuple[int, int, int]]:
    """(better, worse, rank gap) for every pair of candidates in different groups."""
    for i, upper in enumerate(ranking):
        for j in range(i + 1, len(ranking)):
            for better in upper:
                for worse in ranking[j]:
                    yield better, worse, j - i


def preference_records(task: TaskInfo, ranking: list[list[int]],
                       provenance: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cands = task.candidates
    for better, worse, gap in ordered_pairs(ranking):
        if better not in cands or worse not in cands:
            continue
        yield {
            "prompt": task.prompt,
            "chosen": cands[better].completion,
            "rejected": cands[worse].completion,
            "margin": float(gap),
            "task_id": task.external_id,
            "chosen_candidate": cands[better].label,
            "rejected_candidate": cands[worse].label,
            "chosen_model": task.model_of(better),
            "rejected_model": task.model_of(worse),
        } | provenance


class Preferences(Exporter):
    name = "preferences"

    def from_annotation(self, session: Session, project: Project,
                        row: AnnotationRow) -> Iterator[dict[str, Any]]:
        yield from preference_records(row.task, row.ranking, {
            "source": ANNOTATIONS, "annotation_id": row.id, "annotator": row.annotator,
            "adjudicator": None, "simulated": row.simulated,
            "rubric_version": row.rubric_version})

    def from_adjudication(self, session: Session, project: Project,
                          row: AdjudicatedRow) -> Iterator[dict[str, Any]]:
        yield from preference_records(row.task, row.ranking, {
            "source": ADJUDICATED, "annotation_id": None, "annotator": None,
            "adjudicator": row.adjudicator, "simulated": row.simulated,
            "rubric_version": None})

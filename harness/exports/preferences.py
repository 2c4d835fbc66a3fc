"""preferences: (prompt, chosen, rejected) for every ordered pair of a ranking.

The columns TRL's RewardTrainer and DPOTrainer read as they are (`prompt`,
`chosen`, `rejected`, and `margin` for the reward trainer), with the rank gap
as the margin. Candidates in one rank group are tied and never form a pair.
An adjudicated task gives its final ranking's pairs once, instead of each annotator's
(`source` says which; exports/adjudicated.py has the rule).

A task's prompt and completions are most of each record's bytes and the same in every
pair of the task: each is encoded once per task (`_TaskText`), and a pair's line is
those texts put together (`preference_lines`, the one definition of the record;
`records` reads the lines back, for Parquet).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from harness.exports.adjudicated import ADJUDICATED, ANNOTATIONS
from harness.exports.base import Exporter, Progress, fast_dumps
from harness.exports.tasks import TaskInfo
from harness.models import Project


def ordered_pairs(ranking: list[list[int]]) -> Iterator[tuple[int, int, int]]:
    """(better, worse, rank gap) for every pair of candidates in different groups."""
    for i, upper in enumerate(ranking):
        for j in range(i + 1, len(ranking)):
            for better in upper:
                for worse in ranking[j]:
                    yield better, worse, j - i


class _TaskText:
    """A task's members, encoded: the record's head up to `chosen`, and per candidate its
    completion, label and model."""

    __slots__ = ("prompt", "task_id", "completion", "label", "model")

    def __init__(self, task: TaskInfo) -> None:
        self.prompt = '{"prompt":' + fast_dumps(task.prompt) + ',"chosen":'
        self.task_id = ',"task_id":' + fast_dumps(task.external_id)
        self.completion = {c: fast_dumps(cand.completion) for c, cand in task.candidates.items()}
        self.label = {c: fast_dumps(cand.label) for c, cand in task.candidates.items()}
        self.model = {c: fast_dumps(task.model_of(c)) for c in task.candidates}


def preference_lines(task: TaskInfo, text: _TaskText, ranking: list[list[int]],
                     provenance: dict[str, Any]) -> Iterator[str]:
    """The records of one ranking's pairs, as JSON text."""
    cands = task.candidates
    tail = "," + fast_dumps(provenance)[1:]
    completion, label, model = text.completion, text.label, text.model
    for better, worse, gap in ordered_pairs(ranking):
        if better not in cands or worse not in cands:
            continue
        yield "".join((
            text.prompt, completion[better], ',"rejected":', completion[worse],
            ',"margin":', repr(float(gap)), text.task_id,
            ',"chosen_candidate":', label[better], ',"rejected_candidate":', label[worse],
            ',"chosen_model":', model[better], ',"rejected_model":', model[worse], tail))


class Preferences(Exporter):
    name = "preferences"
    with_details = False

    def lines(self, session: Session, project: Project,
              progress: Progress | None = None) -> Iterator[str]:
        for found in self.batches(session, project, progress):
            texts = {tid: _TaskText(task) for tid, task in found.tasks.items()}
            for (aid, _, _, rubric_id, _, ranking, _, _, _, _, _, _, task_id, user_id,
                 simulated, _) in found.rows:
                yield from preference_lines(found.tasks[task_id], texts[task_id], ranking, {
                    "source": ANNOTATIONS, "annotation_id": aid,
                    "annotator": found.annotators[user_id], "adjudicator": None,
                    "simulated": simulated,
                    "rubric_version": found.rubrics.get(rubric_id, ("", ""))[1]})
        for final in self.finals(session, project, progress):
            yield from preference_lines(final.task, _TaskText(final.task), final.ranking, {
                "source": ADJUDICATED, "annotation_id": None, "annotator": None,
                "adjudicator": final.adjudicator, "simulated": final.simulated,
                "rubric_version": None})

    def records(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        for line in self.lines(session, project, progress):
            yield json.loads(line)

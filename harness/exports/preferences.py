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
from harness.exports.base import CHUNK, Exporter, Progress, fast_dumps
from harness.exports.tasks import TaskInfo
from harness.models import Project


def ordered_pairs(ranking: list[list[int]]) -> Iterator[tuple[int, int, int]]:
    """(better, worse, rank gap) for every pair of candidates in different groups."""
    for i, upper in enumerate(ranking):
        for j in range(i + 1, len(ranking)):
            for better in upper:
                for worse in ranking[j]:
                    yield better, worse, j - i


_MARGINS: dict[int, bytes] = {}


def _margin(gap: int) -> bytes:
    found = _MARGINS.get(gap)
    if found is None:
        found = _MARGINS[gap] = (',"margin":' + repr(float(gap))).encode()
    return found


class _TaskText:
    """A task's members, encoded once as UTF-8: the record's head up to `chosen`, per
    candidate its completion (and its completion with the `rejected` key after it, for
    when it is chosen), and per ordered pair of candidates met so far the keys from
    `task_id` to `rejected_model` (`pair`). A pair's line is six of these pieces put
    together: the texts are neither joined as `str` nor encoded once per pair (that was a
    third of the export)."""

    __slots__ = ("prompt", "chosen", "rejected", "pairs", "task_id", "label", "model")

    def __init__(self, task: TaskInfo) -> None:
        cands = task.candidates
        self.prompt = ('{"prompt":' + fast_dumps(task.prompt) + ',"chosen":').encode()
        completion = {c: fast_dumps(cand.completion) for c, cand in cands.items()}
        self.rejected = {c: text.encode() for c, text in completion.items()}
        self.chosen = {c: (text + ',"rejected":').encode() for c, text in completion.items()}
        self.task_id = ',"task_id":' + fast_dumps(task.external_id)
        self.label = {c: fast_dumps(cand.label) for c, cand in cands.items()}
        self.model = {c: fast_dumps(task.model_of(c)) for c in cands}
        self.pairs: dict[tuple[int, int], bytes] = {}

    def pair(self, better: int, worse: int) -> bytes | None:
        """The keys from `task_id` to `rejected_model` of a pair (None if either candidate
        is not the task's), remembered: a task's pairs recur across its annotators."""
        label, model = self.label, self.model
        if better not in label or worse not in label:
            return None
        found = self.pairs[better, worse] = "".join((
            self.task_id, ',"chosen_candidate":', label[better], ',"rejected_candidate":',
            label[worse], ',"chosen_model":', model[better], ',"rejected_model":',
            model[worse])).encode()
        return found


def preference_lines(text: _TaskText, ranking: list[list[int]],
                     provenance: dict[str, Any]) -> Iterator[bytes]:
    """The records of one ranking's pairs, as UTF-8 JSON text (without the newline)."""
    tail = ("," + fast_dumps(provenance)[1:]).encode()
    prompt, chosen, rejected, pairs = text.prompt, text.chosen, text.rejected, text.pairs
    for better, worse, gap in ordered_pairs(ranking):
        pair = pairs.get((better, worse)) or text.pair(better, worse)
        if pair is None:  # a candidate not of the task
            continue
        yield b"".join((prompt, chosen[better], rejected[worse], _margin(gap), pair, tail))


class Preferences(Exporter):
    name = "preferences"
    with_details = False

    def encoded(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[bytes]:
        """The records as UTF-8 JSON text, one per line (without its newline)."""
        for found in self.batches(session, project, progress):
            texts = {tid: _TaskText(task) for tid, task in found.tasks.items()}
            for (aid, _, _, rubric_id, _, ranking, _, _, _, _, _, _, task_id, user_id,
                 simulated, _) in found.rows:
                yield from preference_lines(texts[task_id], ranking, {
                    "source": ANNOTATIONS, "annotation_id": aid,
                    "annotator": found.annotators[user_id], "adjudicator": None,
                    "simulated": simulated,
                    "rubric_version": found.rubrics.get(rubric_id, ("", ""))[1]})
        for final in self.finals(session, project, progress):
            yield from preference_lines(_TaskText(final.task), final.ranking, {
                "source": ADJUDICATED, "annotation_id": None, "annotator": None,
                "adjudicator": final.adjudicator, "simulated": final.simulated,
                "rubric_version": None})

    def lines(self, session: Session, project: Project,
              progress: Progress | None = None) -> Iterator[str]:
        for line in self.encoded(session, project, progress):
            yield line.decode()

    def stream(self, session: Session, project: Project,
               progress: Progress | None = None) -> Iterator[bytes]:
        """Exporter.stream of the encoded lines: chunks of about CHUNK bytes."""
        buffer: list[bytes] = []
        size = 0
        for line in self.encoded(session, project, progress):
            buffer.append(line)
            size += len(line)
            if size >= CHUNK:
                buffer.append(b"")
                yield b"\n".join(buffer)
                buffer, size = [], 0
        if buffer:
            buffer.append(b"")
            yield b"\n".join(buffer)

    def records(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        for line in self.encoded(session, project, progress):
            yield json.loads(line)

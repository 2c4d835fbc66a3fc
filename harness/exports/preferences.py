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

from harness import collector
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


def _encode(value: Any) -> bytes:
    """`fast_dumps` as UTF-8. Not orjson's bytes as they come: kept for a batch, they took
    more memory (peak RSS 91 -> 129 MB on the bench) for no time measurably saved."""
    return fast_dumps(value).encode()


PAUSED = 200
"""Rankings whose lines are made in one pause of the collector (~1,000 lines, 3 MB here)."""

_MARGINS: dict[int, bytes] = {}
_NAMES: dict[tuple[str, str], tuple[bytes, bytes, bytes, bytes]] = {}


def _margin(gap: int) -> bytes:
    found = _MARGINS[gap] = b',"margin":' + repr(float(gap)).encode()
    return found


def _names(label: str, model: str) -> tuple[bytes, bytes, bytes, bytes]:
    """A candidate's label and model under the keys of the chosen and of the rejected side:
    a few labels and models recur across every task, so they are encoded once."""
    found = _NAMES.get((label, model))
    if found is None:
        if len(_NAMES) >= 10_000:
            _NAMES.clear()
        lab, mod = _encode(label), _encode(model)
        found = _NAMES[label, model] = (
            b',"chosen_candidate":' + lab, b',"rejected_candidate":' + lab,
            b',"chosen_model":' + mod, b',"rejected_model":' + mod)
    return found


class _TaskText:
    """A task's members, encoded once as UTF-8: the record's head up to `chosen`, the task
    id, and per candidate its completion (also with the `rejected` key after it, for when
    it is chosen) and its label and model under the keys of either side. A pair's line is
    these pieces put together: nothing is joined as `str` or encoded once per pair (that
    was a third of the export)."""

    __slots__ = ("prompt", "task_id", "chosen", "rejected", "names")

    def __init__(self, task: TaskInfo) -> None:
        cands = task.candidates
        self.prompt = b'{"prompt":' + _encode(task.prompt) + b',"chosen":'
        self.task_id = b',"task_id":' + _encode(task.external_id)
        self.rejected = {c: _encode(cand.completion) for c, cand in cands.items()}
        self.chosen = {c: text + b',"rejected":' for c, text in self.rejected.items()}
        self.names = {c: _names(cand.label, task.model_of(c)) for c, cand in cands.items()}


def preference_lines(text: _TaskText, ranking: list[list[int]],
                     provenance: dict[str, Any]) -> list[bytes]:
    """The records of one ranking's pairs, as UTF-8 JSON text (without the newline)."""
    tail = b"," + _encode(provenance)[1:]
    prompt, task_id, chosen, rejected, names = (text.prompt, text.task_id, text.chosen,
                                                text.rejected, text.names)
    margins = _MARGINS
    return [b"".join((prompt, chosen[better], rejected[worse], margins.get(gap) or _margin(gap),
                      task_id, names[better][0], names[worse][1], names[better][2],
                      names[worse][3], tail))
            for better, worse, gap in ordered_pairs(ranking)
            if better in chosen and worse in chosen]  # not a candidate of the task: no pair


class Preferences(Exporter):
    name = "preferences"
    with_details = False

    def encoded(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[list[bytes]]:
        """The records as UTF-8 JSON text (without newlines), a ranking's at a time."""
        for found in self.batches(session, project, progress):
            texts = {tid: _TaskText(task) for tid, task in found.tasks.items()}
            for (aid, _, _, rubric_id, _, ranking, _, _, _, _, _, _, task_id, user_id,
                 simulated, _) in found.rows:
                yield preference_lines(texts[task_id], ranking, {
                    "source": ANNOTATIONS, "annotation_id": aid,
                    "annotator": found.annotators[user_id], "adjudicator": None,
                    "simulated": simulated,
                    "rubric_version": found.rubrics.get(rubric_id, ("", ""))[1]})
        for final in self.finals(session, project, progress):
            yield preference_lines(_TaskText(final.task), final.ranking, {
                "source": ADJUDICATED, "annotation_id": None, "annotator": None,
                "adjudicator": final.adjudicator, "simulated": final.simulated,
                "rubric_version": None})

    def lines(self, session: Session, project: Project,
              progress: Progress | None = None) -> Iterator[str]:
        for found in self.encoded(session, project, progress):
            for line in found:
                yield line.decode()

    def stream(self, session: Session, project: Project,
               progress: Progress | None = None) -> Iterator[bytes]:
        """Exporter.stream of the encoded lines: chunks of about CHUNK bytes. The lines
        are made PAUSED rankings at a time with the collector paused (harness/collector.py:
        it took a sixth of the time), and yielded with it on."""
        buffer: list[bytes] = []
        size = 0
        for made in collector.in_pauses(self.encoded(session, project, progress), PAUSED):
            for found in made:
                if not found:
                    continue
                buffer += found
                size += sum(map(len, found))
                if size >= CHUNK:
                    buffer.append(b"")
                    yield b"\n".join(buffer)
                    buffer, size = [], 0
        if buffer:
            buffer.append(b"")
            yield b"\n".join(buffer)

    def records(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        for found in self.encoded(session, project, progress):
            for line in found:
                yield json.loads(line)

"""rankings: two tables in one file, told apart by `method`.

1. "bradley-terry", per model: strength from the pairs of every ranking, with a 95%
   bootstrap interval over whole tasks, and its rank interval. Ties count as half a win
   for each side.
2. "plackett-luce", per model: strength from the whole rankings (exports/plackett_luce.py,
   ties by Breslow's rule), with the same bootstrap and rank interval; `rankings` and
   `first` say in how many rankings the model appears and how often it is (joint) first.

Both tables have the same columns (None where one does not apply), so the file is one
table for Parquet too.

An adjudicated task counts with the lead's final ranking instead of its annotators'
rankings, weighted by how many annotators it replaces, so adjudication changes what a
task says and not how much it weighs (`adjudicated_tasks` says how many there were).

The annotation stream is reduced to compact numeric arrays as it is read: three numbers
per ranking (task, which distinct ranking of model names, weight), and the pairs and
stages of each distinct ranking once (bradley_terry.RankingRows); the records themselves
are never kept.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from harness import collector
from harness.exports.base import Exporter, Progress
from harness.exports.tasks import TaskInfo
from harness.models import Project

if TYPE_CHECKING:
    from harness.exports.bradley_terry import Comparisons

# The fits (numpy) load when a ranking is computed: the registry of formats is imported
# by the server at start, which should not pay for numpy.

ELO_SCALE = 400 / math.log(10)
"""Strengths are also given on the Elo scale arena leaderboards use (1000 at the mean)."""


def task_models(task: TaskInfo) -> dict[int, str]:
    """candidate id -> model (or label), for each of the task's candidates."""
    return {c: task.model_of(c) for c in task.candidates}


class ComparisonBuilder:
    def __init__(self) -> None:
        from harness.exports.bradley_terry import RankingRows
        from harness.exports.plackett_luce import StageBuilder

        self.models: dict[str, int] = {}
        self.tasks: dict[int, int] = {}
        self.rows = RankingRows()
        self.winner = array("q")
        self.loser = array("q")
        self.share = array("d")
        """The pairs of each distinct ranking (of model names), one run per ranking (`rows`);
        rankings repeat, so these hold far fewer pairs than the rankings give."""
        self.kinds: dict[tuple[tuple[str, ...], ...], int] = {}
        self.stages = StageBuilder()

    def _model(self, name: str) -> int:
        return self.models.setdefault(name, len(self.models))

    def add(self, task: TaskInfo, ranking: list[list[int]], weight: float = 1.0,
            models_of: dict[int, str] | None = None) -> None:
        """Every pair of one ranking of the task, `weight` times. `models_of` is the task's
        candidate -> model (`task_models`), when the caller has it for the task's other
        rankings too."""
        if models_of is None:
            models_of = task_models(task)
        models = [[models_of[c] for c in group if c in models_of] for group in ranking]
        key = tuple(map(tuple, models))
        self.stages.add(task.id, models, weight, key)
        t = self.tasks.setdefault(task.id, len(self.tasks))
        kind = self.kinds.get(key)
        if kind is None:
            winners, losers, shares = self._pairs(models)
            kind = self.kinds[key] = self.rows.add_kind(len(self.winner), len(winners))
            self.winner.extend(winners)
            self.loser.extend(losers)
            self.share.extend(shares)
        self.rows.add(t, kind, weight)

    def _pairs(self, models: list[list[str]]) -> tuple[list[int], list[int], list[float]]:
        """(winners, losers, weights) of one ranking of model names: a win for the better
        group, half a win each way for a tie, nothing between two candidates of one model.
        Rankings repeat (the same models in the same order), so this runs once per distinct
        ranking."""
        winners: list[int] = []
        losers: list[int] = []
        shares: list[float] = []
        placed = [(g, m) for g, group in enumerate(models) for m in group]
        for i, (gi, mi) in enumerate(placed):
            for gj, mj in placed[i + 1:]:
                if mi == mj:
                    continue
                a, b = self._model(mi), self._model(mj)
                if gi == gj:
                    winners += (a, b)
                    losers += (b, a)
                    shares += (0.5, 0.5)
                elif gi < gj:
                    winners.append(a)
                    losers.append(b)
                    shares.append(1.0)
                else:
                    winners.append(b)
                    losers.append(a)
                    shares.append(1.0)
        return winners, losers, shares

    def build(self) -> Comparisons:
        import numpy as np

        from harness.exports.bradley_terry import Comparisons

        task, weight, index = self.rows.expand()
        names = sorted(self.models, key=self.models.__getitem__)
        return Comparisons.build(
            names, task, np.frombuffer(self.winner, dtype=np.int64)[index],
            np.frombuffer(self.loser, dtype=np.int64)[index],
            np.frombuffer(self.share, dtype=np.float64)[index] * weight, len(self.tasks))


class Rankings(Exporter):
    name = "rankings"
    with_files = False
    with_details = False
    rounds = 200

    def records(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        # Read and fitted with the collector paused (harness/collector.py: it took a sixth
        # of the time); the table is ten-odd rows, yielded after.
        with collector.paused():
            table = self._table(session, project, progress)
        yield from table

    def _table(self, session: Session, project: Project,
               progress: Progress | None) -> list[dict[str, Any]]:
        from harness.exports import bradley_terry, plackett_luce

        builder = ComparisonBuilder()
        for found in self.batches(session, project, progress):
            tasks = found.tasks
            models = {tid: task_models(task) for tid, task in tasks.items()}
            for row in found.rows:
                task_id = row[12]  # the task, the ranking (source.Row)
                builder.add(tasks[task_id], row[5], 1.0, models[task_id])
        adjudicated = 0
        for final in self.finals(session, project, progress):
            builder.add(final.task, final.ranking, float(final.annotators))
            adjudicated += 1
        data = builder.build()
        common = {"tasks": data.tasks, "adjudicated_tasks": adjudicated,
                  "bootstrap_rounds": self.rounds}
        table = [
            _row(r.model, r.rank, r.rank_low, r.rank_high, r.strength, r.ci_low, r.ci_high) | {
                "wins": r.wins, "losses": r.losses, "comparisons": r.comparisons,
                "rankings": None, "first": None, "method": "bradley-terry"} | common
            for r in bradley_terry.rank_models(data, rounds=self.rounds)]
        stages = builder.stages
        pl_stages = stages.build()
        for p in plackett_luce.rank_models(pl_stages, rounds=self.rounds):
            m = stages.models[p.model]
            table.append(
                _row(p.model, p.rank, p.rank_low, p.rank_high, p.strength, p.ci_low,
                     p.ci_high) | {
                    "wins": None, "losses": None, "comparisons": None,
                    "rankings": stages.appearances.get(m, 0.0),
                    "first": stages.firsts.get(m, 0.0),
                    "method": "plackett-luce"} | common | {"tasks": pl_stages.tasks})
        return table


def _row(model: str, rank: int, rank_low: int, rank_high: int, strength: float, ci_low: float,
         ci_high: float) -> dict[str, Any]:
    return {"model": model, "rank": rank, "rank_low": rank_low, "rank_high": rank_high,
            "strength": strength, "ci_low": ci_low, "ci_high": ci_high,
            "elo": 1000 + ELO_SCALE * strength, "elo_low": 1000 + ELO_SCALE * ci_low,
            "elo_high": 1000 + ELO_SCALE * ci_high}

"""The rankings builders record a ranking as (task, kind, weight) and keep each distinct
ranking's pairs and stages once (bradley_terry.RankingRows): expanded, they are the
pairs and stages of every ranking in the order read, as if each had been written out."""

from __future__ import annotations

import numpy as np

from harness.exports.bradley_terry import Comparisons
from harness.exports.rankings import ComparisonBuilder
from harness.exports.tasks import CandidateInfo, TaskInfo


def _task(tid: int, models: dict[int, str]) -> TaskInfo:
    return TaskInfo(tid, f"t{tid}", "", False, {
        c: CandidateInfo(c, f"c{c}", m, {}, "", None) for c, m in models.items()})


def _written_out(rankings) -> Comparisons:
    """Every pair of every ranking, one by one: a win for the better group, half a win
    each way within a group, nothing between two candidates of one model."""
    names: dict[str, int] = {}
    tasks: dict[int, int] = {}
    task, winner, loser, weight = [], [], [], []
    for info, ranking, w in rankings:
        t = tasks.setdefault(info.id, len(tasks))
        placed = [(g, info.model_of(c)) for g, group in enumerate(ranking) for c in group
                  if c in info.candidates]
        for i, (gi, mi) in enumerate(placed):
            for gj, mj in placed[i + 1:]:
                if mi == mj:
                    continue
                a, b = names.setdefault(mi, len(names)), names.setdefault(mj, len(names))
                pairs = [(a, b, 0.5), (b, a, 0.5)] if gi == gj else \
                    [(a, b, 1.0)] if gi < gj else [(b, a, 1.0)]
                for x, y, share in pairs:
                    task.append(t)
                    winner.append(x)
                    loser.append(y)
                    weight.append(share * w)
    return Comparisons.build(sorted(names, key=names.__getitem__), np.array(task, np.int64),
                             np.array(winner, np.int64), np.array(loser, np.int64),
                             np.array(weight), len(tasks))


def test_expanded_rows_are_every_ranking_written_out() -> None:
    one = _task(1, {1: "x", 2: "y", 3: "z", 4: "x"})
    two = _task(2, {5: "y", 6: "z", 7: "w"})
    rankings = [
        (one, [[1], [2, 3], [4]], 1.0),
        (two, [[5], [6], [7]], 1.0),
        (one, [[1], [2, 3], [4]], 1.0),  # the same ranking again: kept once, counted twice
        (two, [[7, 5], [6], [99]], 3.0),  # an adjudicated ranking's weight; 99 not a candidate
        (one, [[2], [3]], 1.0),
        (two, [[5], [6], [7]], 2.0),
    ]
    builder = ComparisonBuilder()
    for info, ranking, weight in rankings:
        builder.add(info, ranking, weight)
    ours, theirs = builder.build(), _written_out(rankings)
    assert ours.models == theirs.models and ours.tasks == theirs.tasks == 2
    for column in ("task", "pair", "weight"):
        assert np.array_equal(getattr(ours, column), getattr(theirs, column)), column
    assert len(builder.kinds) == 4  # distinct rankings of model names

    stages = builder.stages.build()
    # task 1: x>{y,z}>x twice and y>z once; task 2: y>z>w with weight 3, {w,y}>z with 3
    x, y, z, w = (builder.stages.models[m] for m in "xyzw")
    by_task = {}
    for t, s, c in zip(stages.task, stages.shape, stages.weight, strict=True):
        rest = np.flatnonzero(stages.remaining[s]).tolist()
        picked = np.flatnonzero(stages.chosen[s]).tolist()
        by_task[int(t), tuple(rest), tuple(picked)] = float(c)
    def s(*models: int) -> tuple[int, ...]:
        return tuple(sorted(models))

    assert by_task == {
        (0, s(x, y, z), (x,)): 2.0, (0, s(y, z), s(y, z)): 2.0, (0, s(y, z), (y,)): 1.0,
        (1, s(y, z, w), (y,)): 3.0, (1, s(z, w), (z,)): 3.0, (1, s(y, z, w), s(w, y)): 3.0,
    }
    assert builder.stages.appearances == {x: 2.0, y: 9.0, z: 9.0, w: 6.0}
    assert builder.stages.firsts == {x: 2.0, y: 7.0, w: 3.0}

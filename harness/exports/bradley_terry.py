"""Bradley–Terry strengths by maximum likelihood, and a bootstrap over whole tasks.

P(i beats j) = exp(s_i) / (exp(s_i) + exp(s_j)). A tie counts as half a win for
each side. The comparisons are kept aggregated per (task, ordered pair) with
their win weight, so one bootstrap replicate is a bincount weighted by resampled
task counts: memory grows with the number of distinct (task, winner, loser)
triples, never with the records. Strengths are centred (mean 0); a tiny ridge (alpha)
keeps models that never lost or never won finite.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ALPHA = 1e-6
MAX_ITER = 100


def _objective(s: NDArray[np.float64], wins: NDArray[np.float64], alpha: float) -> float:
    diff = s[:, None] - s[None, :]
    return float(np.sum(wins * np.logaddexp(0.0, -diff))) + alpha * float(s @ s)


def fit(wins: NDArray[np.float64], alpha: float = ALPHA) -> NDArray[np.float64]:
    """Strengths (log scale, mean 0) from wins[i, j] = how often i beat j.

    Damped Newton on the penalised negative log-likelihood: the Hessian of n models
    is n x n, so each step is exact and cheap, and a few dozen steps converge where
    a first-order method needs thousands. The likelihood does not change when every
    strength moves by the same amount; adding 11^T/n to the Hessian fixes that
    direction without changing the step in the others.
    """
    n = wins.shape[0]
    total = wins + wins.T
    ones = np.full((n, n), 1.0 / n)
    s = np.zeros(n)
    value = _objective(s, wins, alpha)
    for _ in range(MAX_ITER):
        p = 1.0 / (1.0 + np.exp(-(s[:, None] - s[None, :])))  # P(i beats j)
        grad = -(wins.sum(axis=1) - (total * p).sum(axis=1)) + 2 * alpha * s
        weights = total * p * (1.0 - p)
        hess = np.diag(weights.sum(axis=1)) - weights + 2 * alpha * np.eye(n) + ones
        step = np.linalg.solve(hess, grad)
        previous = value
        s, value, scale = backtrack(s, step, value, lambda t: _objective(t, wins, alpha))
        if np.max(np.abs(scale * step)) < 1e-10 or previous - value < 1e-13:
            break
    centred: NDArray[np.float64] = s - s.mean()
    return centred


def backtrack(s: NDArray[np.float64], step: NDArray[np.float64], value: float,
              objective: Callable[[NDArray[np.float64]], float],
              ) -> tuple[NDArray[np.float64], float, float]:
    """A damped Newton step: the full step, halved until the objective does not rise.
    Returns the new point, its objective and the scale taken (both fits use it)."""
    scale = 1.0
    while True:
        trial = s - scale * step
        trial_value = objective(trial)
        if trial_value <= value + 1e-12 or scale < 1e-8:
            return trial, trial_value, scale
        scale /= 2


@dataclass(frozen=True)
class Intervals:
    """Bootstrap intervals of strengths and ranks around a point estimate."""

    low: NDArray[np.float64]
    high: NDArray[np.float64]
    rank: NDArray[np.int64]
    rank_low: NDArray[np.float64]
    rank_high: NDArray[np.float64]


def bootstrap(point: NDArray[np.float64], tasks: int,
              refit: Callable[[NDArray[np.float64]], NDArray[np.float64]], *, rounds: int,
              seed: int, level: float) -> Intervals:
    """Percentile intervals from `rounds` refits, each on whole tasks drawn with
    replacement (`refit` gets how often each task was drawn)."""
    rng = np.random.default_rng(seed)
    boots = np.empty((rounds, len(point)))
    for b in range(rounds):
        draws = np.bincount(rng.integers(0, tasks, tasks), minlength=tasks)
        boots[b] = refit(draws.astype(np.float64))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(boots, [tail, 100 - tail], axis=0)
    rank_low, rank_high = np.percentile(np.apply_along_axis(ranks, 1, boots),
                                        [tail, 100 - tail], axis=0)
    return Intervals(low, high, ranks(point), rank_low, rank_high)


class RankingRows:
    """Rankings as they are read, one row each (task, kind, weight), where a kind is a
    distinct ranking of model names whose entries (its pairs, or its Plackett–Luce
    stages) are kept once in the caller's columns: rankings repeat, and a row costs three
    numbers to record instead of an extension of each column. Expanded with numpy, in
    row order, before a fit."""

    def __init__(self) -> None:
        self.row_task = array("q")
        self.row_kind = array("q")
        self.row_weight = array("d")
        self.starts: list[int] = []
        self.lengths: list[int] = []

    def add_kind(self, start: int, length: int) -> int:
        """A new kind, whose entries are start .. start + length of the caller's columns."""
        self.starts.append(start)
        self.lengths.append(length)
        return len(self.starts) - 1

    def add(self, task: int, kind: int, weight: float) -> None:
        self.row_task.append(task)
        self.row_kind.append(kind)
        self.row_weight.append(weight)

    def expand(self) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
        """Per entry of every row in row order: the row's task, its weight, and the entry's
        index in the columns."""
        kind = np.frombuffer(self.row_kind, dtype=np.int64)
        per_row = np.array(self.lengths, dtype=np.int64)[kind]
        row = np.repeat(np.arange(len(kind)), per_row)
        first = np.cumsum(per_row) - per_row  # each row's first entry in the expansion
        index = (np.array(self.starts, dtype=np.int64)[kind][row]
                 + np.arange(len(row), dtype=np.int64) - first[row])
        task = np.frombuffer(self.row_task, dtype=np.int64)[row]
        weight = np.frombuffer(self.row_weight, dtype=np.float64)[row]
        return task, weight, index


@dataclass(frozen=True)
class Comparisons:
    """Win weights per (task, ordered pair of models), aggregated."""

    models: list[str]
    tasks: int
    task: NDArray[np.int64]
    pair: NDArray[np.int64]  # winner * n + loser
    weight: NDArray[np.float64]

    @classmethod
    def build(cls, models: list[str], task_idx: NDArray[np.int64], winner: NDArray[np.int64],
              loser: NDArray[np.int64], weight: NDArray[np.float64],
              tasks: int) -> Comparisons:
        n = len(models)
        key = task_idx * (n * n) + winner * n + loser
        unique, inverse = np.unique(key, return_inverse=True)
        summed = np.bincount(inverse, weights=weight).astype(np.float64)
        return cls(models, tasks, unique // (n * n), unique % (n * n), summed)

    def wins(self, task_weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        n = len(self.models)
        weights = self.weight if task_weights is None else self.weight * task_weights[self.task]
        flat = np.bincount(self.pair, weights=weights, minlength=n * n)
        return flat.astype(np.float64).reshape(n, n)


@dataclass(frozen=True)
class Ranking:
    model: str
    strength: float
    ci_low: float
    ci_high: float
    rank: int
    rank_low: int
    rank_high: int
    wins: float
    losses: float
    comparisons: float


def ranks(strengths: NDArray[np.float64]) -> NDArray[np.int64]:
    """1 for the strongest."""
    order = np.argsort(-strengths, kind="stable")
    out = np.empty(len(strengths), dtype=np.int64)
    out[order] = np.arange(1, len(strengths) + 1)
    return out


def rank_models(data: Comparisons, *, rounds: int = 200, seed: int = 0,
                level: float = 0.95) -> list[Ranking]:
    """Strengths with bootstrap intervals (whole tasks resampled) and rank intervals."""
    n = len(data.models)
    if n == 0:
        return []
    wins = data.wins()
    point = fit(wins)
    iv = bootstrap(point, data.tasks, lambda draws: fit(data.wins(draws)), rounds=rounds,
                   seed=seed, level=level)
    out = [
        Ranking(model=data.models[i], strength=float(point[i]), ci_low=float(iv.low[i]),
                ci_high=float(iv.high[i]), rank=int(iv.rank[i]), rank_low=int(iv.rank_low[i]),
                rank_high=int(np.ceil(iv.rank_high[i])), wins=float(wins[i].sum()),
                losses=float(wins[:, i].sum()),
                comparisons=float(wins[i].sum() + wins[:, i].sum()))
        for i in range(n)
    ]
    return sorted(out, key=lambda r: r.rank)

"""Plackett–Luce strengths from whole rankings by maximum likelihood, with a bootstrap
over whole tasks (the second table of the `rankings` export, beside Bradley–Terry).

A ranking of models m1 > m2 > ... > mk is read as choices: m1 is picked from all k,
then m2 from the rest, and so on, each with probability exp(s_i) / sum over the
remaining of exp(s_j). Unlike Bradley–Terry over the pairs, a ranking of k models
counts as one observation, not k(k-1)/2 independent ones.

Ties, by Breslow's rule (as in Cox regression with tied event times): a tied group G
at a stage where the models R remain contributes prod_{i in G} exp(s_i) / (sum_{j in R}
exp(s_j))^|G|, i.e. each member of the group is picked from the same remaining set,
symmetrically, and the group leaves R together. Without ties this is exactly
Plackett–Luce; a group tied for last (G = R, two or more models) still says its members
are alike (its term is largest when their strengths are equal), and a lone last model
contributes nothing. A model that occurs twice in one ranking (two candidates of the
same model) counts at its best place only.

Stages are aggregated by their shape (the remaining set and the chosen group) and task,
so one bootstrap replicate is a weighted bincount over stage shapes, and the fit works
on a shapes x models matrix: its size depends on how many distinct shapes occur,
never on the number of rankings. The fit is a damped Newton method on the penalised
negative log-likelihood, which is concave in the log-strengths, with the same ridge
and centring as bradley_terry.fit.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from harness.exports.bradley_terry import ALPHA, MAX_ITER, RankingRows, backtrack, bootstrap

Shape = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class Stages:
    """Stage shapes (remaining set, chosen group) and their weights per task."""

    models: list[str]
    tasks: int
    remaining: NDArray[np.float64]  # shapes x models, 1 where the model remains
    chosen: NDArray[np.float64]  # shapes x models, 1 where the model is picked
    task: NDArray[np.int64]  # per (task, shape) entry
    shape: NDArray[np.int64]
    weight: NDArray[np.float64]

    def counts(self, task_weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """The weight of each shape (with tasks weighted, for a bootstrap replicate)."""
        weights = self.weight if task_weights is None else self.weight * task_weights[self.task]
        out: NDArray[np.float64] = np.bincount(self.shape, weights=weights,
                                               minlength=len(self.remaining)).astype(np.float64)
        return out


class StageBuilder:
    """Turns rankings (groups of model names, best first) into Stages as they stream."""

    def __init__(self) -> None:
        self.models: dict[str, int] = {}
        self.tasks: dict[int, int] = {}
        self.shapes: dict[Shape, int] = {}
        self.rows = RankingRows()
        self.shape = array("q")
        """The stages' shapes of each distinct ranking, one run per ranking (`rows`)."""
        self.appearances: dict[int, float] = {}
        self.firsts: dict[int, float] = {}
        self.memo: dict[tuple[tuple[str, ...], ...], tuple[int, list[int], tuple[int, ...]]] = {}
        """ranking -> (its kind of row, the models in it, its first group)"""

    def add(self, task_key: int, ranking: Sequence[Sequence[str]], weight: float = 1.0,
            key: tuple[tuple[str, ...], ...] | None = None) -> None:
        """One ranking of the task, `weight` times (`key`: the ranking as tuples, when the
        caller has made it)."""
        t = self.tasks.setdefault(task_key, len(self.tasks))
        if key is None:
            key = tuple(map(tuple, ranking))
        found = self.memo.get(key)
        if found is None:
            seen, first, shapes = self._stages(ranking)
            kind = self.rows.add_kind(len(self.shape), len(shapes))
            self.shape.extend(shapes)
            found = self.memo[key] = (kind, seen, first)
        kind, seen, first = found
        appearances, firsts = self.appearances, self.firsts
        for m in seen:
            appearances[m] = appearances.get(m, 0.0) + weight
        for m in first:
            firsts[m] = firsts.get(m, 0.0) + weight
        self.rows.add(t, kind, weight)

    def _stages(self, ranking: Sequence[Sequence[str]]
                ) -> tuple[list[int], tuple[int, ...], list[int]]:
        """(models in the ranking, its first group, the shape of each stage) of one ranking;
        rankings repeat, so `add` remembers them."""
        seen: set[int] = set()
        groups: list[tuple[int, ...]] = []
        for group in ranking:
            ids = []
            for name in group:
                m = self.models.setdefault(name, len(self.models))
                if m not in seen:
                    seen.add(m)
                    ids.append(m)
            if ids:
                groups.append(tuple(sorted(ids)))
        if len(seen) < 2:
            return [], (), []
        shapes = []
        remaining = sorted(seen)
        for picked in groups:
            if len(remaining) < 2:
                break
            key = (tuple(remaining), picked)
            shapes.append(self.shapes.setdefault(key, len(self.shapes)))
            chosen = set(picked)
            remaining = [m for m in remaining if m not in chosen]
        return list(seen), groups[0], shapes

    def build(self) -> Stages:
        n, u = len(self.models), len(self.shapes)
        remaining = np.zeros((u, n))
        chosen = np.zeros((u, n))
        for (rest, group), s in self.shapes.items():
            remaining[s, list(rest)] = 1.0
            chosen[s, list(group)] = 1.0
        task, weight, index = self.rows.expand()
        shape = np.frombuffer(self.shape, dtype=np.int64)[index]
        key = task * max(u, 1) + shape
        unique, inverse = np.unique(key, return_inverse=True)
        summed = np.bincount(inverse, weights=weight).astype(np.float64)
        names = sorted(self.models, key=self.models.__getitem__)
        return Stages(names, len(self.tasks), remaining, chosen, unique // max(u, 1),
                      unique % max(u, 1), summed)


def _log_denominators(s: NDArray[np.float64], remaining: NDArray[np.float64]
                      ) -> NDArray[np.float64]:
    """log sum_{j in R} exp(s_j) for each shape (one matrix-vector product)."""
    top = float(s.max())
    out: NDArray[np.float64] = top + np.log(remaining @ np.exp(s - top))
    return out


def _objective(s: NDArray[np.float64], counts: NDArray[np.float64], sizes: NDArray[np.float64],
               picked: NDArray[np.float64], remaining: NDArray[np.float64],
               alpha: float) -> float:
    return (-float(picked @ s) + float((counts * sizes) @ _log_denominators(s, remaining))
            + alpha * float(s @ s))


def fit(stages: Stages, counts: NDArray[np.float64] | None = None,
        alpha: float = ALPHA) -> NDArray[np.float64]:
    """Log-strengths (mean 0) maximising the penalised Plackett–Luce likelihood.

    With w = exp(s), D_u = sum_{j in R_u} w_j and c_u m_u the weight times the group size
    of shape u: gradient_i = -picked_i + w_i sum_u c_u m_u [i in R_u] / D_u, and the
    Hessian is diag(that sum) - W R^T diag(c m / D^2) R W, so a step costs a few products
    of the shapes x models matrix, never an elementwise pass per shape and model.
    """
    c = stages.counts() if counts is None else counts
    remaining = stages.remaining
    n = remaining.shape[1]
    if n == 0:
        return np.zeros(0)
    sizes = stages.chosen.sum(axis=1)
    picked = stages.chosen.T @ c  # how often each model is picked
    cm = c * sizes
    ones = np.full((n, n), 1.0 / n)
    s = np.zeros(n)
    value = _objective(s, c, sizes, picked, remaining, alpha)
    for _ in range(MAX_ITER):
        top = float(s.max())
        w = np.exp(s - top)
        denom = remaining @ w
        expected = (remaining.T @ (cm / denom)) * w  # sum over shapes of c m P(pick i)
        grad = -picked + expected + 2 * alpha * s
        inner = remaining.T @ ((cm / denom**2)[:, None] * remaining)
        hess = (np.diag(expected) - w[:, None] * inner * w[None, :] + 2 * alpha * np.eye(n)
                + ones)
        step = np.linalg.solve(hess, grad)
        # the Newton decrement: what a full step would gain. Stop when it is below the
        # objective's rounding (halving steps against rounding noise was most of the time)
        if float(grad @ step) < 1e-14 * (1.0 + abs(value)):
            break
        previous = value
        s, value, scale = backtrack(
            s, step, value, lambda t: _objective(t, c, sizes, picked, remaining, alpha))
        if np.max(np.abs(scale * step)) < 1e-10 or previous - value < 1e-13:
            break
    centred: NDArray[np.float64] = s - s.mean()
    return centred


@dataclass(frozen=True)
class Strength:
    model: str
    strength: float
    ci_low: float
    ci_high: float
    rank: int
    rank_low: int
    rank_high: int


def rank_models(stages: Stages, *, rounds: int = 200, seed: int = 0,
                level: float = 0.95) -> list[Strength]:
    """Strengths with bootstrap intervals (whole tasks resampled) and rank intervals,
    strongest first."""
    n = len(stages.models)
    if n == 0:
        return []
    point = fit(stages)
    iv = bootstrap(point, stages.tasks, lambda draws: fit(stages, stages.counts(draws)),
                   rounds=rounds, seed=seed, level=level)
    out = [Strength(stages.models[i], float(point[i]), float(iv.low[i]), float(iv.high[i]),
                    int(iv.rank[i]), int(iv.rank_low[i]), int(np.ceil(iv.rank_high[i])))
           for i in range(n)]
    return sorted(out, key=lambda r: r.rank)

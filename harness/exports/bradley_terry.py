"""Bradley–Terry strengths by maximum likelihood, and a bootstrap over whole tasks.

P(i beats j) = exp(s_i) / (exp(s_i) + exp(s_j)). A tie counts as half a win for
each side. The comparisons are kept as a sparse (task x ordered pair) matrix of
win weights, so one bootstrap replicate is a resampled count per task times that
matrix: memory grows with the number of distinct (task, winner, loser) triples,
never with the records. Strengths are centred (mean 0); a tiny ridge (alpha)
keeps models that never lost or never won finite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse

ALPHA = 1e-6


def fit(wins: NDArray[np.float64], alpha: float = ALPHA) -> NDArray[np.float64]:
    """Strengths (log scale, mean 0) from wins[i, j] = how often i beat j."""
    n = wins.shape[0]
    total = wins + wins.T

    def objective(s: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        diff = s[:, None] - s[None, :]
        log_p = -np.logaddexp(0.0, -diff)  # log P(i beats j)
        nll = -float(np.sum(wins * log_p)) + alpha * float(s @ s)
        p = np.exp(log_p)
        grad = -(wins.sum(axis=1) - (total * p).sum(axis=1)) + 2 * alpha * s
        return nll, grad

    result = optimize.minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B",
                               options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-15})
    s: NDArray[np.float64] = result.x - result.x.mean()
    return s


@dataclass(frozen=True)
class Comparisons:
    """Win weights per task and ordered pair (winner, loser) of models."""

    models: list[str]
    tasks: int
    matrix: sparse.csr_matrix  # tasks x (n*n)

    @classmethod
    def build(cls, models: list[str], task_idx: NDArray[np.int64], winner: NDArray[np.int64],
              loser: NDArray[np.int64], weight: NDArray[np.float64],
              tasks: int) -> Comparisons:
        n = len(models)
        matrix = sparse.csr_matrix((weight, (task_idx, winner * n + loser)),
                                   shape=(max(tasks, 1), n * n))
        matrix.sum_duplicates()
        return cls(models, tasks, matrix)

    def wins(self, task_weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        n = len(self.models)
        if task_weights is None:
            flat = np.asarray(self.matrix.sum(axis=0)).ravel()
        else:
            flat = self.matrix.T @ task_weights
        return np.asarray(flat, dtype=np.float64).reshape(n, n)


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
    rng = np.random.default_rng(seed)
    boots = np.empty((rounds, n))
    for b in range(rounds):
        counts = np.bincount(rng.integers(0, data.tasks, data.tasks), minlength=data.tasks)
        boots[b] = fit(data.wins(counts.astype(np.float64)))
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(boots, [tail, 100 - tail], axis=0)
    boot_ranks = np.apply_along_axis(ranks, 1, boots)
    rank_lo, rank_hi = np.percentile(boot_ranks, [tail, 100 - tail], axis=0)
    point_ranks = ranks(point)
    out = [
        Ranking(model=data.models[i], strength=float(point[i]), ci_low=float(lo[i]),
                ci_high=float(hi[i]), rank=int(point_ranks[i]), rank_low=int(rank_lo[i]),
                rank_high=int(np.ceil(rank_hi[i])), wins=float(wins[i].sum()),
                losses=float(wins[:, i].sum()),
                comparisons=float(wins[i].sum() + wins[:, i].sum()))
        for i in range(n)
    ]
    return sorted(out, key=lambda r: r.rank)

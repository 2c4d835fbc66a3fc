"""Plackett–Luce: agrees with choix on untied rankings, ties by Breslow's rule on a
worked example, intervals that narrow as data grows."""

from __future__ import annotations

import choix
import numpy as np
import pytest

from harness.exports.plackett_luce import StageBuilder, fit, rank_models


def _rankings(n_models: int, n_tasks: int, seed: int, per_task: int = 2):
    """Full rankings drawn from Plackett–Luce with known strengths: each task ranks a
    random subset of 3..n models, `per_task` times (different annotators)."""
    rng = np.random.default_rng(seed)
    truth = np.linspace(-1, 1, n_models)
    out = []
    for t in range(n_tasks):
        k = int(rng.integers(3, n_models + 1))
        items = rng.choice(n_models, k, replace=False)
        for _ in range(per_task):
            left, order = list(items), []
            while left:
                w = np.exp(truth[left])
                pick = left[int(rng.choice(len(left), p=w / w.sum()))]
                order.append(int(pick))
                left.remove(pick)
            out.append((t, order))
    return out


def _stages(rankings, n_models: int):
    builder = StageBuilder()
    for i in range(n_models):  # fix the model order: m0..m(n-1)
        builder.models[f"m{i}"] = i
    for task, order in rankings:
        builder.add(task, [[f"m{i}"] for i in order])
    return builder.build()


def test_agrees_with_choix_on_untied_rankings() -> None:
    rankings = _rankings(6, 200, seed=3)
    stages = _stages(rankings, 6)
    ours = fit(stages, alpha=1e-4)
    theirs = choix.opt_rankings(6, [o for _, o in rankings], alpha=1e-4, tol=1e-10)
    assert np.allclose(ours, theirs - theirs.mean(), atol=1e-6), (ours, theirs)
    # and the unpenalised MLE by choix's other method (its ridge differs; 1e-4 is tiny)
    mle = choix.ilsr_rankings(6, [o for _, o in rankings], alpha=0.0, tol=1e-12)
    assert np.allclose(ours, mle - mle.mean(), atol=1e-4), (ours, mle)
    assert np.argsort(ours).tolist() == list(range(6))  # the true order is recovered


def test_ties_by_breslow_worked_example() -> None:
    """a beats b once, and they tie once: a's term is w_a/(w_a+w_b), the tie's is
    w_a w_b/(w_a+w_b)^2; the product x^2/(1+x)^3 (x = w_a/w_b) is largest at x = 2."""
    builder = StageBuilder()
    builder.add(0, [["a"], ["b"]])
    builder.add(1, [["a", "b"]])
    s = fit(builder.build(), alpha=0.0)
    assert s[0] - s[1] == pytest.approx(np.log(2.0), abs=1e-6)
    always_tied = StageBuilder()
    for t in range(5):
        always_tied.add(t, [["x"], ["a", "b"], ["y"]])
        always_tied.add(t, [["a", "b"], ["x"], ["y"]])
    s = fit(always_tied.build())
    assert s[1] == pytest.approx(s[2], abs=1e-9)  # tied members are treated alike


def test_intervals_narrow_as_data_grows() -> None:
    width = lambda rows: np.mean([r.ci_high - r.ci_low for r in rows])  # noqa: E731
    small = rank_models(_stages(_rankings(4, 30, seed=5), 4), rounds=100)
    large = rank_models(_stages(_rankings(4, 800, seed=5), 4), rounds=100)
    assert width(large) < width(small) / 2
    assert large[0].model == "m3" and large[0].ci_low <= large[0].strength <= large[0].ci_high
    assert all(r.rank_low <= r.rank <= r.rank_high for r in large)

"""Agreement figures on hand-made cases with known answers, alpha against the
`krippendorff` package, W against a worked example with ties."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import krippendorff
import numpy as np
import pytest
from scipy import stats

from harness.agreement import (
    finding_agreement,
    kendalls_tau,
    kendalls_w,
    krippendorff_alpha,
    match_findings,
    midranks,
    same_finding,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 coders x 12
# units example with missing values; the paper gives alpha for each level.
N = None
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def units_of(coders: list[list[float | None]]) -> list[list[float | None]]:
    return [list(unit) for unit in zip(*coders, strict=True)]


def package_alpha(coders: list[list[float | None]], level: str) -> float:
    data = np.array([[np.nan if v is None else v for v in row] for row in coders], dtype=float)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


@pytest.mark.parametrize(("level", "published"),
                         [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_alpha_on_the_published_example(level: str, published: float) -> None:
    ours = krippendorff_alpha(units_of(KRIPPENDORFF_2011), level)
    assert ours == pytest.approx(published, abs=0.0005)
    assert ours == pytest.approx(package_alpha(KRIPPENDORFF_2011, level), abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_ordinal_alpha_matches_the_package_on_random_scores(seed: int) -> None:
    rng = random.Random(seed)
    coders, units = rng.randint(2, 5), rng.randint(3, 40)
    truth = [rng.randint(1, 5) for _ in range(units)]
    data = [[None if rng.random() < 0.2 else max(1, min(5, t + rng.choice([-1, 0, 0, 1])))
             for t in truth] for _ in range(coders)]
    try:
        expected = package_alpha(data, "ordinal")
    except ValueError:  # the package refuses data with one value only; ours says None
        assert krippendorff_alpha(units_of(data)) is None
        return
    assert krippendorff_alpha(units_of(data)) == pytest.approx(expected, abs=1e-9)


def test_alpha_hand_cases() -> None:
    assert krippendorff_alpha([[1, 1], [3, 3], [5, 5]]) == 1.0  # perfect agreement
    assert krippendorff_alpha([[2, 2], [2, 2]]) is None  # no variation: undefined
    assert krippendorff_alpha([[1], [2, None]]) is None  # nothing pairable
    # two coders who always disagree by swapping 1 and 2: alpha = 1 - (n-1) * Do/De
    # with n = 4 pairable values, o(1,2) = o(2,1) = 2, n1 = n2 = 2: Do = 4*d, De = 8*d
    assert krippendorff_alpha([[1, 2], [2, 1]], "nominal") == pytest.approx(1 - 3 * 4 / 8)


def test_w_worked_example_with_ties() -> None:
    """Three annotators rank four candidates A-D (best first), with ties:

        rater 1: A, B, {C, D}    ranks A=1,   B=2,   C=3.5, D=3.5   T = 2^3-2 = 6
        rater 2: {A, B}, C, D    ranks A=1.5, B=1.5, C=3,   D=4     T = 6
        rater 3: A, C, B, D      ranks A=1,   B=3,   C=2,   D=4     T = 0

    Rank sums 3.5, 6.5, 8.5, 11.5 around their mean m(n+1)/2 = 7.5: S = 16+1+1+16 = 34.
    W = 12 S / (m^2 (n^3 - n) - m sum T) = 408 / (9*60 - 3*12) = 408/504 = 17/21;
    without the tie correction it would be 408/540.
    """
    rankings = [[["A"], ["B"], ["C", "D"]], [["A", "B"], ["C"], ["D"]],
                [["A"], ["C"], ["B"], ["D"]]]
    assert kendalls_w(rankings) == pytest.approx(17 / 21)
    assert kendalls_w(rankings) != pytest.approx(408 / 540)
    # Friedman's chi-square (scipy corrects it for ties) is m (n - 1) W
    ranks = [[midranks(r)[c] for c in "ABCD"] for r in rankings]
    chi2 = stats.friedmanchisquare(*zip(*ranks, strict=True)).statistic
    assert chi2 == pytest.approx(3 * 3 * 17 / 21)


def test_w_hand_cases() -> None:
    same = [[1], [2], [3]]
    assert kendalls_w([same, same, same]) == pytest.approx(1.0)
    assert kendalls_w([[[1], [2]], [[2], [1]]]) == pytest.approx(0.0)  # two who disagree
    assert kendalls_w([same]) is None
    assert kendalls_w([[[1, 2, 3]], [[1, 2, 3]]]) is None  # all tied: undefined


@pytest.mark.parametrize("seed", range(10))
def test_w_agrees_with_friedman_on_random_rankings_with_ties(seed: int) -> None:
    rng = random.Random(seed)
    m, n = rng.randint(2, 6), rng.randint(3, 6)
    rankings = []
    for _ in range(m):
        items = list(range(n))
        rng.shuffle(items)
        groups: list[list[int]] = []
        for item in items:
            if groups and rng.random() < 0.3:
                groups[-1].append(item)
            else:
                groups.append([item])
        rankings.append(groups)
    w = kendalls_w(rankings)
    ranks = [[midranks(r)[i] for i in range(n)] for r in rankings]
    if w is None:
        return
    chi2 = stats.friedmanchisquare(*zip(*ranks, strict=True)).statistic
    assert m * (n - 1) * w == pytest.approx(chi2)


def test_tau_hand_cases_and_scipy() -> None:
    assert kendalls_tau([[1], [2], [3]], [[1], [2], [3]]) == pytest.approx(1.0)
    assert kendalls_tau([[1], [2], [3]], [[3], [2], [1]]) == pytest.approx(-1.0)
    # one swap of three: C - D = 2 - 1 over 3 pairs
    assert kendalls_tau([[1], [2], [3]], [[2], [1], [3]]) == pytest.approx(1 / 3)
    a, b = [[1], [2, 3], [4]], [[1, 2], [3], [4]]
    ra, rb = midranks(a), midranks(b)
    expected = stats.kendalltau([ra[i] for i in range(1, 5)], [rb[i] for i in range(1, 5)])
    assert kendalls_tau(a, b) == pytest.approx(expected.statistic)
    assert kendalls_tau([[1, 2]], [[1], [2]]) is None


@dataclass
class F:
    candidate_id: int
    file_path: str
    line_start: int
    line_end: int
    category: str
    cwe: int | None = None


def test_same_finding_rule() -> None:
    base = F(1, "s.py", 10, 12, "bug")
    assert same_finding(base, F(1, "s.py", 12, 20, "bug"))  # touching at line 12
    assert not same_finding(base, F(1, "s.py", 13, 20, "bug"))  # no overlap
    assert not same_finding(base, F(2, "s.py", 10, 12, "bug"))  # other candidate
    assert not same_finding(base, F(1, "t.py", 10, 12, "bug"))  # other file
    assert not same_finding(base, F(1, "s.py", 10, 12, "style"))  # other category
    sec = F(1, "s.py", 5, 5, "security", 89)
    assert same_finding(sec, F(1, "s.py", 5, 6, "security", None))  # one names no CWE
    assert not same_finding(sec, F(1, "s.py", 5, 6, "security", 78))
    assert same_finding(sec, F(1, "s.py", 5, 6, "security", 78), check_cwe=False)


def test_matching_is_one_to_one_and_prefers_the_largest_overlap() -> None:
    wide = [F(1, "s.py", 1, 20, "bug")]
    narrow = [F(1, "s.py", 1, 2, "bug"), F(1, "s.py", 5, 15, "bug")]
    assert match_findings(wide, narrow) == [(0, 1)]


def test_finding_agreement_hand_cases() -> None:
    a = [F(1, "s.py", 1, 3, "bug"), F(2, "s.py", 4, 4, "bug")]
    b = [F(1, "s.py", 2, 2, "bug")]
    assert finding_agreement([a, b]) == pytest.approx(2 * 1 / 3)
    assert finding_agreement([[], []]) == 1.0
    assert finding_agreement([a, []]) == 0.0
    # three annotators: pairs (a,b)=2/3, (a,a)=1, (b,a)=2/3
    assert finding_agreement([a, b, a]) == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert finding_agreement([a]) is None
    assert math.isclose(finding_agreement([b, b]) or 0, 1.0)

"""Hidden tests: run like tests/, never shown to candidates, shown to annotators
once they submit. Inputs the visible tests do not use, so a candidate that
memorised the visible answers passes tests/ and fails here."""

import pytest

from solution import from_roman, to_roman


@pytest.mark.parametrize(("n", "numeral"), [(14, "XIV"), (40, "XL"), (944, "CMXLIV")])
def test_to_roman_unseen(n, numeral):
    assert to_roman(n) == numeral


@pytest.mark.parametrize(("numeral", "n"), [("XIV", 14), ("MCMXC", 1990)])
def test_from_roman_unseen(numeral, n):
    assert from_roman(numeral) == n

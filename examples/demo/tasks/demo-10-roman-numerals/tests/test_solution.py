import pytest

from solution import from_roman, to_roman


@pytest.mark.parametrize(
    ("n", "numeral"),
    [(1, "I"), (4, "IV"), (9, "IX"), (58, "LVIII"), (1994, "MCMXCIV"), (3999, "MMMCMXCIX")],
)
def test_to_roman(n, numeral):
    assert to_roman(n) == numeral


@pytest.mark.parametrize(("numeral", "n"), [("III", 3), ("XLII", 42), ("MMXXIV", 2024), ("CDXLIV", 444)])
def test_from_roman(numeral, n):
    assert from_roman(numeral) == n


@pytest.mark.parametrize("bad", [0, -7, 4000])
def test_to_roman_out_of_range(bad):
    with pytest.raises(ValueError):
        to_roman(bad)


@pytest.mark.parametrize("bad", ["", "ABC"])
def test_from_roman_rejects_garbage(bad):
    with pytest.raises(ValueError):
        from_roman(bad)

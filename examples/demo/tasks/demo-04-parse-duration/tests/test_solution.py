import pytest

from solution import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("1h30m", 5400), ("2d", 172800), ("1h 15m", 4500), ("  3m  ", 180)],
)
def test_valid_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bare_number_means_seconds():
    assert parse_duration("90") == 90


@pytest.mark.parametrize("bad", ["", "   ", "10x", "h", "abc", "1h-"])
def test_invalid_input_raises(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_result_is_int():
    assert isinstance(parse_duration("1d1h1m1s"), int)
    assert parse_duration("1d1h1m1s") == 90061

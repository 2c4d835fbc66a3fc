from solution import merge_intervals


def test_overlapping_intervals_merge():
    assert merge_intervals([(1, 3), (2, 6), (8, 10), (15, 18)]) == [(1, 6), (8, 10), (15, 18)]


def test_touching_intervals_merge():
    assert merge_intervals([(1, 4), (4, 5)]) == [(1, 5)]


def test_unsorted_input():
    assert merge_intervals([(8, 10), (1, 3), (2, 4), (-5, -1)]) == [(-5, -1), (1, 4), (8, 10)]


def test_empty_and_single():
    assert merge_intervals([]) == []
    assert merge_intervals([(2, 2)]) == [(2, 2)]


def test_contained_interval_and_input_untouched():
    data = [(1, 10), (2, 3), (4, 12)]
    assert merge_intervals(data) == [(1, 12)]
    assert data == [(1, 10), (2, 3), (4, 12)]

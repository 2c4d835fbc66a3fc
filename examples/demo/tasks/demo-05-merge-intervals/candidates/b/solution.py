from typing import List, Tuple

Interval = Tuple[int, int]


def merge_intervals(intervals: List[Interval]) -> List[Interval]:
    """
    Merge all overlapping intervals.

    Approach:
        1. Sort the intervals by their start value.
        2. Walk through them, extending the current interval while the next
           one overlaps it.

    Time complexity: O(n log n)
    """
    if not intervals:
        return []

    ordered = sorted(intervals, key=lambda iv: iv[0])
    result = [ordered[0]]

    for current in ordered[1:]:
        last = result[-1]
        if current[0] < last[1]:
            # Overlap: extend the last interval.
            result[-1] = (last[0], max(last[1], current[1]))
        else:
            result.append(current)

    return result

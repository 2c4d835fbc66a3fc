from __future__ import annotations


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two closed intervals overlap (or touch) if neither ends before the other starts."""
    return a[0] <= b[1] and b[0] <= a[1]


def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping intervals.

    Repeatedly looks for any pair of overlapping intervals and fuses them
    until no pair overlaps any more, then returns the result sorted.
    """
    pending = list(intervals)
    changed = True
    while changed:
        changed = False
        for i in range(len(pending)):
            for j in range(i + 1, len(pending)):
                if _overlaps(pending[i], pending[j]):
                    a, b = pending[i], pending[j]
                    pending[i] = (min(a[0], b[0]), max(a[1], b[1]))
                    del pending[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(pending)

"""Summary statistics for one column of a CSV file."""

from __future__ import annotations

import csv
from typing import Any


def summarize_column(path: str, column: str) -> dict[str, Any]:
    """Return count, min, max and mean of the numeric ``column`` in ``path``.

    The file is streamed row by row, so large exports don't need to fit in
    memory.
    """
    count = 0
    total = 0.0
    low = high = None
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise KeyError(column)
        for row in reader:
            cell = (row.get(column) or "").strip()
            if not cell:
                continue
            value = float(cell)  # ValueError for non-numeric cells
            count += 1
            total += value
            low = value if low is None else min(low, value)
            high = value if high is None else max(high, value)
    if count == 0:
        return {"count": 0, "min": None, "max": None, "mean": None}
    return {"count": count, "min": low, "max": high, "mean": round(total / count, 2)}

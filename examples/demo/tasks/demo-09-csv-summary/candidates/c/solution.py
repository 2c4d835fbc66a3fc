from __future__ import annotations

import csv
import statistics


def summarize_column(path: str, column: str) -> dict:
    """Summarise ``column`` of the CSV at ``path``."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    # Raises KeyError naturally when the column does not exist.
    values = [float(row[column]) for row in rows if row[column].strip()]

    return {
        "count": len(values),
        "min": min(values),
        "max": max(values),
        "mean": round(statistics.mean(values), 2),
    }

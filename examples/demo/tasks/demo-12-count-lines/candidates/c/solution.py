from __future__ import annotations

import os


def count_lines(path: str) -> int:
    """Count the lines in a text file.

    Args:
        path: Path to the file.

    Returns:
        Number of lines. An empty file has zero lines.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    # errors="replace" keeps this working for log files with odd bytes.
    with open(path, encoding="utf-8", errors="replace") as f:
        return len(f.readlines())

"""Parse durations such as ``1h30m`` into seconds."""

from __future__ import annotations

import re

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")
_FULL = re.compile(r"(?:\d+[dhms]\s*)+")


def parse_duration(text: str) -> int:
    """Return the number of seconds described by ``text``.

    >>> parse_duration("1h30m")
    5400
    >>> parse_duration("90")
    90
    """
    cleaned = text.strip()
    if cleaned.isdigit():
        return int(cleaned)
    if not cleaned or not _FULL.fullmatch(cleaned):
        raise ValueError(f"invalid duration: {text!r}")
    return sum(int(value) * _UNITS[unit] for value, unit in _PART.findall(cleaned))

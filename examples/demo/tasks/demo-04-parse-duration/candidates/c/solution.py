from __future__ import annotations

import re

UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Parse a duration like ``"1h30m"`` or ``"45s"`` and return seconds.

    Unknown fragments are ignored, so ``"1h junk"`` is simply one hour.
    """
    text = text.strip()
    if text.isdigit():
        return int(text)

    total = 0
    for amount, unit in re.findall(r"(\d+)\s*([dhms])", text):
        total += int(amount) * UNIT_SECONDS[unit]
    return total

from __future__ import annotations

VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
ORDER = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]


def to_roman(n: int) -> str:
    """Convert ``n`` to a Roman numeral.

    Values above 3999 can't be written with standard symbols, so those are
    rejected; smaller values are converted greedily.
    """
    if n > 3999:
        raise ValueError("too large for Roman numerals")
    parts = []
    for value, symbol in ORDER:
        while n >= value:
            parts.append(symbol)
            n -= value
    return "".join(parts)


def from_roman(s: str) -> int:
    """Convert a Roman numeral string back to an integer."""
    if not s:
        raise ValueError("empty string")
    total = 0
    i = 0
    while i < len(s):
        if s[i] not in VALUES:
            raise ValueError(f"bad character {s[i]!r}")
        if i + 1 < len(s) and s[i + 1] in VALUES and VALUES[s[i]] < VALUES[s[i + 1]]:
            total += VALUES[s[i + 1]] - VALUES[s[i]]
            i += 2
        else:
            total += VALUES[s[i]]
            i += 1
    return total

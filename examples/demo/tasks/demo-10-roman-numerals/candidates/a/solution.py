"""Conversion between integers and Roman numerals."""

from __future__ import annotations

_PAIRS: tuple[tuple[int, str], ...] = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"),
    (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
    (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)
_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def to_roman(n: int) -> str:
    """Return the Roman numeral for ``n`` (1 <= n <= 3999)."""
    if not 1 <= n <= 3999:
        raise ValueError(f"{n} is outside 1..3999")
    out: list[str] = []
    for value, symbol in _PAIRS:
        count, n = divmod(n, value)
        out.append(symbol * count)
    return "".join(out)


def from_roman(s: str) -> int:
    """Return the integer value of the Roman numeral ``s``."""
    if not s or any(ch not in _VALUES for ch in s):
        raise ValueError(f"not a Roman numeral: {s!r}")
    total = 0
    for current, following in zip(s, s[1:] + " "):
        value = _VALUES[current]
        if following != " " and value < _VALUES[following]:
            total -= value
        else:
            total += value
    return total

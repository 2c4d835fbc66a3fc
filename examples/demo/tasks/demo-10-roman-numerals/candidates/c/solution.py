from typing import Dict, List, Tuple

ROMAN_NUMERALS: List[Tuple[int, str]] = [
    (1000, "M"),
    (500, "D"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
]

ROMAN_VALUES: Dict[str, int] = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def to_roman(n: int) -> str:
    """
    Convert an integer to a Roman numeral.

    >>> to_roman(58)
    'LVIII'
    """
    if not (0 < n < 4000):
        raise ValueError("Number out of range (must be 1..3999)")

    numeral = ""
    for value, symbol in ROMAN_NUMERALS:
        while n >= value:
            numeral += symbol
            n -= value
    return numeral


def from_roman(s: str) -> int:
    """
    Convert a Roman numeral to an integer.

    Iterates from right to left, subtracting a value when it is smaller than
    the one to its right.
    """
    if not s:
        raise ValueError("Empty string is not a valid Roman numeral")

    total = 0
    prev = 0
    for ch in reversed(s):
        if ch not in ROMAN_VALUES:
            raise ValueError(f"Invalid Roman numeral character: {ch}")
        value = ROMAN_VALUES[ch]
        if value < prev:
            total -= value
        else:
            total += value
            prev = value
    return total

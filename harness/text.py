"""Lines of candidate code, counted one way everywhere (the server, pygments and the page).

Only "\\n" ends a line ("\\r\\n" and a lone "\\r" are normalised to it first), as in
pygments and the browser. str.splitlines() would also split on form feeds,
"\\u2028", "\\x85" and others, so findings' line numbers would drift from the page.
"""

from __future__ import annotations

import re


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[str]:
    """The lines of `text`; a final newline does not start another line."""
    text = normalise_newlines(text)
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def line_count(text: str) -> int:
    """At least 1: an empty file still shows (and takes findings on) one line."""
    return max(len(split_lines(text)), 1)


def line_diff(left: str, right: str) -> list[dict[str, object]]:
    """Rows of a side-by-side line diff: op (equal|replace|delete|insert), the line
    numbers on each side (None where a side has no line) and their texts."""
    import difflib

    a, b = split_lines(left), split_lines(right)
    rows: list[dict[str, object]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend({"op": "equal", "a": i + 1, "b": j + 1, "a_text": a[i], "b_text": b[j]}
                        for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            rows.append({
                "op": tag,
                "a": i + 1 if i < i2 else None,
                "b": j + 1 if j < j2 else None,
                "a_text": a[i] if i < i2 else None,
                "b_text": b[j] if j < j2 else None,
            })
    return rows


NUL_MESSAGE = "may not contain NUL characters"


def has_nul(text: str) -> bool:
    """Text with a NUL character is refused on input: PostgreSQL cannot store it in a text
    column, and no prompt, comment or rationale needs one (code files are JSON, where it
    is escaped, and stay as they are)."""
    return "\x00" in text


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """A whole number typed or sent as text (surrounding spaces allowed), else None.

    ASCII digits only, and at most 18 of them: str.isdigit() also accepts "³" and other
    Unicode digits, on which int() raises, and int() refuses a string of more than 4300
    digits; either way a forged score, line or rank was a 500 rather than a named error.
    """
    match = _WHOLE_NUMBER.fullmatch(text.strip())
    return int(match.group()) if match else None

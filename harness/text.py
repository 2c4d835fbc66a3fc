"""Lines of candidate code, counted one way everywhere (the server, pygments and the page).

Only "\\n" ends a line ("\\r\\n" and a lone "\\r" are normalised to it first), as in
pygments and the browser. str.splitlines() would also split on form feeds,
"\\u2028", "\\x85" and others, so findings' line numbers would drift from the page.
"""

from __future__ import annotations


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


NUL_MESSAGE = "may not contain NUL characters"


def has_nul(text: str) -> bool:
    """Text with a NUL character is refused on input: PostgreSQL cannot store it in a text
    column, and no prompt, comment or rationale needs one (code files are JSON, where it
    is escaped, and stay as they are)."""
    return "\x00" in text

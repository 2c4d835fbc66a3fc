"""Count newline characters in a file, like ``wc -l``."""

from __future__ import annotations

CHUNK_SIZE = 1 << 20  # 1 MiB


def count_lines(path: str) -> int:
    """Return the number of ``\\n`` bytes in the file at ``path``.

    Reads in binary chunks, so memory use is constant and the content does not
    need to be valid text.
    """
    count = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            count += chunk.count(b"\n")
    return count

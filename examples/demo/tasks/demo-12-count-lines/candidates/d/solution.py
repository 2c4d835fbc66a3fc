from __future__ import annotations

import os


def _run(command: str) -> str:
    """Run a shell command and return its standard output."""
    with os.popen(command) as pipe:
        return pipe.read()


def count_lines(path: str) -> int:
    """Count lines in ``path`` using ``wc -l``.

    The path is wrapped in single quotes so that file names containing spaces
    work too.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    output = _run("wc -l < '%s'" % path)
    return int(output.strip())

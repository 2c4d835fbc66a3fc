"""Read files from under a base directory without letting callers escape it."""

from __future__ import annotations

import os


def read_file(base_dir: str, relative_path: str) -> str:
    """Return the text of ``relative_path`` resolved inside ``base_dir``.

    Both paths are fully resolved (``..`` segments and symlinks) before the
    containment check, so absolute paths, parent references and symlinks that
    point outside the base are all rejected with ``ValueError``.
    """
    base = os.path.realpath(base_dir)
    target = os.path.realpath(os.path.join(base, relative_path))
    if os.path.commonpath([base, target]) != base:
        raise ValueError("path escapes base directory")
    if not os.path.isfile(target):
        raise FileNotFoundError(relative_path)
    with open(target, encoding="utf-8") as fh:
        return fh.read()

from __future__ import annotations

import os


def _is_within(base: str, path: str) -> bool:
    """Check whether ``path`` lives under ``base``."""
    return path.startswith(base)


def read_file(base_dir: str, relative_path: str) -> str:
    """Read ``relative_path`` from ``base_dir``, refusing paths outside it.

    The joined path is normalised with ``os.path.abspath`` so that ``..`` and
    ``.`` segments are collapsed before checking it against the base.
    """
    base = os.path.abspath(base_dir)
    full = os.path.abspath(os.path.join(base, relative_path))

    if not _is_within(base, full):
        raise ValueError("path escapes base directory")

    try:
        with open(full, encoding="utf-8") as fh:
            return fh.read()
    except IsADirectoryError:
        raise FileNotFoundError(relative_path) from None

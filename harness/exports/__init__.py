"""Exports: a registry of formats, each a class in its own module (like the analyzers).

`get(name, options)` gives the exporter; `exporter.stream(session, project)`
yields the file's bytes in chunks, in constant memory, for the CLI and HTTP
alike. Adding a format is a class in one file plus one line in FORMATS.
"""

from __future__ import annotations

from harness.errors import InvalidInput
from harness.exports.base import Exporter, ExportOptions
from harness.exports.battles import Battles
from harness.exports.jsonl import Jsonl
from harness.exports.kto import Kto
from harness.exports.parquet import Parquet
from harness.exports.preferences import Preferences
from harness.exports.rankings import Rankings
from harness.exports.ratings import Ratings
from harness.exports.sarif import Sarif

FORMATS: dict[str, type[Exporter]] = {
    cls.name: cls
    for cls in (Jsonl, Preferences, Kto, Ratings, Battles, Sarif, Rankings, Parquet)
}


def get(name: str, options: ExportOptions | None = None) -> Exporter:
    cls = FORMATS.get(name)
    if cls is None:
        raise InvalidInput("invalid", f"unknown format {name!r}; expected one of "
                           f"{', '.join(FORMATS)}", field="format")
    return cls(options)


__all__ = ["FORMATS", "ExportOptions", "Exporter", "get"]

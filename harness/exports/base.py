"""The export format interface: records from the annotation stream, written as bytes.

A format is a class with a `name`, a media type and a file extension, that turns
the stream of annotation versions (`source.annotations`) into records
(`records`) and writes them (`stream`, JSON lines by default). Tabular formats
(`tabular = True`) can also be written as Parquet. Nothing is held beyond one
source batch, except where a format must aggregate (rankings keeps compact
numeric arrays, not records).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from sqlalchemy.orm import Session

from harness.exports import adjudicated, source
from harness.models import Project

Progress = Callable[[int], Any]
CHUNK = 64 * 1024


@dataclass(frozen=True)
class ExportOptions:
    """What a caller may choose: the table Parquet writes, the KTO threshold."""

    table: str | None = None
    threshold: float | None = None


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_default)


class Exporter:
    name: ClassVar[str]
    media_type: ClassVar[str] = "application/x-ndjson"
    extension: ClassVar[str] = "jsonl"
    tabular: ClassVar[bool] = True
    latest_only: ClassVar[bool] = True
    """Only each assignment's newest version counts (all but the raw jsonl)."""
    with_runs: ClassVar[bool] = False
    with_files: ClassVar[bool] = True
    """Whether records carry the candidates' code (completions)."""
    adjudications: ClassVar[Literal["replace", "append", "ignore"]] = "replace"
    """What an adjudicated task gives (the rule is in exports/adjudicated.py): its final
    result instead of its annotations ("replace": formats built from rankings and
    findings), its annotations and then the final result ("append": the raw jsonl), or
    its annotations only ("ignore": formats built from scores, which are not
    adjudicated)."""

    def __init__(self, options: ExportOptions | None = None) -> None:
        self.options = options or ExportOptions()

    def count(self, session: Session, project: Project) -> int:
        """How many annotation versions and adjudicated results the export reads (the
        progress bar's length)."""
        found = source.count(session, project, latest_only=self.latest_only,
                             skip_adjudicated=self.adjudications == "replace")
        if self.adjudications != "ignore":
            found += adjudicated.count(session, project)
        return found

    def annotations(self, session: Session, project: Project,
                    progress: Progress | None) -> Iterator[source.AnnotationRow]:
        for row in source.iter_annotations(session, project, latest_only=self.latest_only,
                                           with_runs=self.with_runs, with_files=self.with_files,
                                           skip_adjudicated=self.adjudications == "replace"):
            yield row
            if progress is not None:
                progress(1)

    def finals(self, session: Session, project: Project,
                    progress: Progress | None) -> Iterator[adjudicated.AdjudicatedRow]:
        """The project's adjudicated results (none for a format that ignores them)."""
        if self.adjudications == "ignore":
            return
        for row in adjudicated.iter_adjudicated(session, project, with_runs=self.with_runs,
                                                with_files=self.with_files):
            yield row
            if progress is not None:
                progress(1)

    def records(self, session: Session, project: Project,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        for row in self.annotations(session, project, progress):
            yield from self.from_annotation(session, project, row)
        for final in self.finals(session, project, progress):
            yield from self.from_adjudication(session, project, final)

    def from_annotation(self, session: Session, project: Project,
                        row: source.AnnotationRow) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def from_adjudication(self, session: Session, project: Project,
                          row: adjudicated.AdjudicatedRow) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def stream(self, session: Session, project: Project,
               progress: Progress | None = None) -> Iterator[bytes]:
        """JSON lines, in chunks of about CHUNK bytes."""
        buffer: list[str] = []
        size = 0
        for record in self.records(session, project, progress):
            line = dumps(record) + "\n"
            buffer.append(line)
            size += len(line)
            if size >= CHUNK:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        if buffer:
            yield "".join(buffer).encode()

    def filename(self, project: Project) -> str:
        return f"{project.slug}-{self.name}.{self.extension}"

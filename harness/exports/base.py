"""The export format interface: records from the annotation stream, written as bytes.

A format is a class with a `name`, a media type and a file extension, that turns
the stream of annotation versions (`source.iter_batches`, or one AnnotationRow at a
time through `annotations`) into records (`records`) and writes them as lines
(`lines`, `stream`: JSON lines by default). The formats on a hot path (jsonl,
preferences) write their lines' text directly and read their records back from it.
Tabular formats (`tabular = True`) can also be written as Parquet. Nothing is held
beyond one source batch, except where a format must aggregate (rankings keeps compact
numeric arrays, not records).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from sqlalchemy.orm import Session

from harness.exports import adjudicated, source
from harness.models import Project
from harness.records import dumps as dumps
from harness.records import fast_dumps as fast_dumps

Progress = Callable[[int], Any]
CHUNK = 64 * 1024


@dataclass(frozen=True)
class ExportOptions:
    """What a caller may choose: the table Parquet writes, the KTO threshold."""

    table: str | None = None
    threshold: float | None = None


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
    with_details: ClassVar[bool] = True
    """Whether records need scores, display order, rationale, findings and hint verdicts
    (not those built from rankings alone)."""
    stored_records: ClassVar[bool] = False
    """Whether batches carry each version's stored record body (source.iter_batches), for
    the formats that write the annotation record (harness/records.py)."""
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

    def batches(self, session: Session, project: Project,
                progress: Progress | None) -> Iterator[source.Batch]:
        """The annotation versions this format reads, a batch at a time."""
        for found in source.iter_batches(session, project, latest_only=self.latest_only,
                                         with_runs=self.with_runs, with_files=self.with_files,
                                         with_details=self.with_details,
                                         records=self.stored_records,
                                         skip_adjudicated=self.adjudications == "replace"):
            yield found
            if progress is not None:
                progress(len(found.rows))

    def annotations(self, session: Session, project: Project,
                    progress: Progress | None) -> Iterator[source.AnnotationRow]:
        for found in self.batches(session, project, progress):
            yield from source.annotation_rows(found)

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

    def lines(self, session: Session, project: Project,
              progress: Progress | None = None) -> Iterator[str]:
        """The records as JSON text, one per line (without its newline). A format on a hot
        path writes its text directly and reads its records back from it (`records` for
        Parquet), so a record is defined once."""
        for record in self.records(session, project, progress):
            yield dumps(record)

    def stream(self, session: Session, project: Project,
               progress: Progress | None = None) -> Iterator[bytes]:
        """JSON lines, in chunks of about CHUNK bytes."""
        return self.stream_lines(self.lines(session, project, progress))

    @staticmethod
    def stream_lines(lines: Iterator[str]) -> Iterator[bytes]:
        """Lines (without their newlines) in chunks of about CHUNK bytes."""
        buffer: list[str] = []
        size = 0
        for line in lines:
            buffer.append(line)
            size += len(line)
            if size >= CHUNK:
                buffer.append("")
                yield "\n".join(buffer).encode()
                buffer, size = [], 0
        if buffer:
            buffer.append("")
            yield "\n".join(buffer).encode()

    def filename(self, project: Project) -> str:
        return f"{project.slug}-{self.name}.{self.extension}"

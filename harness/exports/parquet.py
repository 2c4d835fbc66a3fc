"""parquet: any tabular format written as Parquet (pyarrow), one row group per batch.

Nested values (scores, ratings) are written as JSON text so every batch has the
schema of the first; a column that is empty in the first batch is text too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from harness.errors import InvalidInput
from harness.exports.base import Exporter, ExportOptions, Progress
from harness.models import Project

ROWS_PER_GROUP = 20_000


class _Sink:
    """A write-only file that hands back what was written since the last take()."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts = []
        return out


def _flat(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


class Parquet(Exporter):
    name = "parquet"
    media_type = "application/vnd.apache.parquet"
    extension = "parquet"
    tabular = False

    def __init__(self, options: ExportOptions | None = None) -> None:
        super().__init__(options)
        from harness.exports import FORMATS

        table = self.options.table or "preferences"
        cls = FORMATS.get(table)
        if cls is None or not cls.tabular:
            tabular = ", ".join(name for name, c in FORMATS.items() if c.tabular)
            raise InvalidInput("invalid", f"{table!r} is not a tabular format ({tabular})",
                               field="table")
        self.inner = cls(self.options)

    def count(self, session: Session, project: Project) -> int:
        return self.inner.count(session, project)

    def filename(self, project: Project) -> str:
        return f"{project.slug}-{self.inner.name}.parquet"

    def stream(self, session: Session, project: Project,
               progress: Progress | None = None) -> Iterator[bytes]:
        import pyarrow as pa  # imported here: the other formats do without its memory
        import pyarrow.parquet as pq

        sink = _Sink()
        writer: pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal writer, schema
            rows = [{k: _flat(v) for k, v in r.items()} for r in batch]
            if schema is None:
                inferred = pa.Table.from_pylist(rows).schema
                schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type)
                                    else f for f in inferred])
                writer = pq.ParquetWriter(sink, schema)
            text = [f.name for f in schema if pa.types.is_string(f.type)]
            for r in rows:
                for name in text:
                    if r.get(name) is not None and not isinstance(r[name], str):
                        r[name] = str(r[name])
            assert writer is not None
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
            batch.clear()

        for record in self.inner.records(session, project, progress):
            batch.append(record)
            if len(batch) >= ROWS_PER_GROUP:
                flush()
                yield sink.take()
        if batch or writer is None:
            if not batch and writer is None:
                batch.append({"empty": None})
            flush()
        assert writer is not None
        writer.close()
        yield sink.take()

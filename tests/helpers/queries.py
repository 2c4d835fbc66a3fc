"""Counting the SQL statements a piece of code sends, to hold pages and claims to a fixed
number of queries whatever the number of tasks (no N+1), as Indico's `count_queries`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


class Queries(list[str]):
    """The statements sent, in order; `str()` lists them for an assertion message."""

    def record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.append(" ".join(statement.split()))

    def __str__(self) -> str:
        return f"{len(self)} statements:\n" + "\n".join(
            f"  {i}. {s[:200]}" for i, s in enumerate(self, 1))


@contextmanager
def counting_queries() -> Iterator[Queries]:
    """Every statement sent on any engine (the test's and the app's) inside the block."""
    queries = Queries()
    event.listen(Engine, "before_cursor_execute", queries.record)
    try:
        yield queries
    finally:
        event.remove(Engine, "before_cursor_execute", queries.record)

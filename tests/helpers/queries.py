"""Counting the SQL statements a piece of code sends, to hold pages and claims to a fixed
number of queries whatever the number of tasks (no N+1), as Indico's `count_queries`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event


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


@contextmanager
def statements_on(engine: Engine, *needles: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements sent on `engine` inside the block whose text holds every needle,
    each with its parameters as the driver got them (to EXPLAIN them afterwards)."""
    found: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if all(needle in statement for needle in needles):
            found.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def rows_read(connection: Connection, statement: str, parameters: Any, table: str) -> int:
    """PostgreSQL: the rows the statement reads from `table` when run (EXPLAIN ANALYZE),
    kept or filtered out, summed over every node of its plan on that table."""
    plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement,
                                      parameters).scalar_one()

    def read(node: dict[str, Any]) -> int:
        own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
               if node.get("Relation Name") == table else 0)
        return int(own) + sum(read(child) for child in node.get("Plans", []))

    return read(plan[0]["Plan"])

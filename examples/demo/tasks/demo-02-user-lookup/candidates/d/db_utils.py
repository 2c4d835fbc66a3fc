"""Small helpers for building and running simple SELECT statements."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any


def _literal(value: Any) -> str:
    """Render a Python value as an SQL literal."""
    if isinstance(value, (int, float)):
        return str(value)
    return "'{}'".format(value)


def select_sql(table: str, columns: Sequence[str], where: Mapping[str, Any]) -> str:
    """Build ``SELECT cols FROM table WHERE k1 = v1 AND k2 = v2``."""
    clauses = " AND ".join("{} = {}".format(k, _literal(v)) for k, v in where.items())
    return "SELECT {} FROM {} WHERE {}".format(", ".join(columns), table, clauses)


def fetch_one(conn: sqlite3.Connection, sql: str) -> tuple[Any, ...] | None:
    """Execute ``sql`` and return the first row, if any."""
    cur = conn.execute(sql)
    try:
        return cur.fetchone()
    finally:
        cur.close()

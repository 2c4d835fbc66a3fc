"""Public API for user lookups. Query building lives in ``db_utils``."""

from __future__ import annotations

import sqlite3
from typing import Any

from db_utils import fetch_one, select_sql

USER_COLUMNS = ("id", "username", "email")


def get_user(conn: sqlite3.Connection, username: str) -> dict[str, Any] | None:
    """Return the active user called ``username`` or ``None``."""
    sql = select_sql("users", USER_COLUMNS, {"username": username, "active": 1})
    row = fetch_one(conn, sql)
    if row is None:
        return None
    return dict(zip(USER_COLUMNS, row))

"""User lookup against the ``users`` table."""

from __future__ import annotations

import sqlite3
from typing import Any

_QUERY = "SELECT id, username, email FROM users WHERE username = ? AND active = 1"


def get_user(conn: sqlite3.Connection, username: str) -> dict[str, Any] | None:
    """Return the active user named exactly ``username``, or ``None``.

    The username is passed as a bound parameter, so it is never interpreted
    as SQL.
    """
    row = conn.execute(_QUERY, (username,)).fetchone()
    if row is None:
        return None
    user_id, name, email = row
    return {"id": user_id, "username": name, "email": email}

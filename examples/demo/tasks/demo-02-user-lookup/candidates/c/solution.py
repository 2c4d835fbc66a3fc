from __future__ import annotations

import sqlite3


def get_user(conn: sqlite3.Connection, username: str) -> dict | None:
    """Look up a user by username.

    Uses ``LIKE`` so the lookup is forgiving about how the name was typed.
    """
    conn.row_factory = sqlite3.Row
    row = conn.execute(
        "SELECT id, username, email FROM users WHERE username LIKE ? AND active = 1 "
        "ORDER BY id LIMIT 1",
        (f"{username}%",),
    ).fetchone()
    return dict(row) if row is not None else None

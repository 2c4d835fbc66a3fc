import sqlite3
from typing import Optional


def get_user(conn: sqlite3.Connection, username: str) -> Optional[dict]:
    """
    Fetch a user by username.

    Args:
        conn: An open SQLite connection.
        username: The username to look up.

    Returns:
        A dict with id, username and email, or None if not found.
    """
    cursor = conn.cursor()
    query = f"SELECT id, username, email FROM users WHERE username = '{username}' AND active = 1"
    cursor.execute(query)
    row = cursor.fetchone()
    cursor.close()

    if not row:
        return None

    return {
        "id": row[0],
        "username": row[1],
        "email": row[2],
    }

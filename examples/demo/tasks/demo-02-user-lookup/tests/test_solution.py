import sqlite3

import pytest

from solution import get_user


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            email TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1
        );
        INSERT INTO users (id, username, email, active) VALUES
            (1, 'alice', 'alice@example.com', 1),
            (2, 'alicia', 'alicia@example.org', 1),
            (3, 'bob', 'bob@example.com', 1),
            (4, 'mallory', 'mallory@example.net', 0);
        """
    )
    yield db
    db.close()


def test_existing_user(conn):
    assert get_user(conn, "alice") == {"id": 1, "username": "alice", "email": "alice@example.com"}


def test_missing_user_returns_none(conn):
    assert get_user(conn, "nobody") is None


def test_prefix_is_not_a_match(conn):
    assert get_user(conn, "ali") is None
    assert get_user(conn, "alicia")["id"] == 2


def test_inactive_user_is_not_found(conn):
    assert get_user(conn, "mallory") is None


def test_connection_settings_unchanged(conn):
    get_user(conn, "bob")
    assert conn.row_factory is None

"""Migration 0004 on a database at 0002 that holds a project: new tables and columns,
existing rows kept, and down again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from harness.db import make_engine
from harness.setup import alembic_config, migrate


def test_0004_up_and_down(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (name, role, is_active, created_at) "
                          "VALUES ('u', 'annotator', 1, '2026-11-01 00:00:00')"))
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"adjudications", "qualification_attempts"} <= tables
    assert "tier" in {c["name"] for c in inspect(engine).get_columns("users")}
    members = {c["name"] for c in inspect(engine).get_columns("project_members")}
    assert {"paused_at", "pause_lifted_at"} <= members
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, tier FROM users")).all() == [("u", None)]
    command.downgrade(alembic_config(engine), "0002")
    assert "adjudications" not in set(inspect(engine).get_table_names())
    assert "tier" not in {c["name"] for c in inspect(engine).get_columns("users")}
    migrate(engine)
    engine.dispose()

"""tasks.hidden_tests, test_runs.hidden_tests and mode, projects.execution_mode

Issue 12: hidden tests (run like the task's tests, never shown to candidates,
shown to annotators only after they submit) and a per-project choice of
execution mode (split by default). A run records the mode it was queued for,
and the mode is part of its dedup key, so every run queued before this
revision has a key no current candidate asks for: projects re-run on the next
enqueue (`harness runs`, an import, a re-run), which is wanted, because those
runs predate split execution or its per-project choice.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EMPTY = sa.text("'{}'")


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("execution_mode", sa.String(length=16), nullable=False,
                                      server_default="split"))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hidden_tests", sa.JSON(), nullable=False,
                                      server_default=EMPTY))
    with op.batch_alter_table("test_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hidden_tests", sa.JSON(), nullable=False,
                                      server_default=EMPTY))
        batch_op.add_column(sa.Column("mode", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("test_runs", schema=None) as batch_op:
        batch_op.drop_column("mode")
        batch_op.drop_column("hidden_tests")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("hidden_tests")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("execution_mode")

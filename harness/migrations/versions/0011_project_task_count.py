"""projects.task_count: how many tasks a project holds, kept by the importer

The review page says "N of M done"; counting the project's tasks on every page
view grew with the project (15 ms at 100,000 tasks on SQLite). The importer is
the one place tasks are added, and it adds to this count in the same
transaction; tasks are never deleted one by one. Existing projects are counted
once here.

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-30 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_count", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.execute("UPDATE projects SET task_count = "
               "(SELECT count(*) FROM tasks WHERE tasks.project_id = projects.id)")


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("task_count")

"""annotations.project_id, indexed with the id: the lab API's pages in O(page)

A page of annotations after a cursor (`WHERE project = ? AND id > ? ORDER BY id
LIMIT 500`) used to reach the project through assignments: SQLite walked every
assignment of the project, joined each one's annotations and sorted what was
left, so a page cost as much as the project. The project id is copied onto each
annotation (assignments never change project) and indexed with the id, so a page
is one range scan of the index. Existing rows take their assignment's project.
No foreign key: adding one to a SQLite table means copying it, and the rows go
with their assignment anyway (annotations.assignment_id cascades).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN in place (no table copy on SQLite); NOT NULL needs a default to start
    op.add_column("annotations", sa.Column("project_id", sa.Integer(), nullable=False,
                                           server_default="0"))
    op.execute("UPDATE annotations SET project_id = (SELECT assignments.project_id "
               "FROM assignments WHERE assignments.id = annotations.assignment_id)")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("annotations", "project_id", server_default=None)
    op.create_index("ix_annotations_project_id_id", "annotations", ["project_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_annotations_project_id_id", table_name="annotations")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_column("project_id")

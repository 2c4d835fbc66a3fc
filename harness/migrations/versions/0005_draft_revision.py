"""assignments.draft_revision, draft_writer, submitted_revision: drafts carry a revision

Two tabs on one task used to overwrite each other's autosaves silently. Each
stored draft now bumps draft_revision and records which page (draft_writer, a
random id per page load) wrote it; a save based on an older revision from
another page is refused (409). submitted_revision is the revision the latest
version was submitted from, so the page can say "changes since version N, not
submitted". Existing rows start at revision 0, nothing submitted from a
revision; their pages load the current revision and carry on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 03:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_revision", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("draft_writer", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("submitted_revision", sa.Integer(), nullable=False,
                                      server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("submitted_revision")
        batch_op.drop_column("draft_writer")
        batch_op.drop_column("draft_revision")

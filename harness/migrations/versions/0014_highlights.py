"""highlights: candidates' files highlighted once per content and language, at import

A task page highlighted each candidate's files with pygments on its first view in each
server process (4 candidates of 200 lines: 35-60 ms of CPU, ten times a warm page), so
with k annotators and several server processes most views of a task paid it. The
analysis pass at import now stores pygments' lines beside the hints (harness.highlight),
keyed by content hash, language and pygments' version. Existing candidates get theirs
from `harness analyze PROJECT`; until then their pages highlight them live, as before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 03:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "highlights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("format_key", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_highlights")),
        sa.UniqueConstraint("content_hash", "language", "format_key",
                            name=op.f("uq_highlights_content_hash_language_format_key")),
    )


def downgrade() -> None:
    op.drop_table("highlights")

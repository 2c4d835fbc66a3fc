"""assignments: an index on (user_id, draft_saved_at), for the per-person active time

A save's active time is bounded per person (harness.annotate.drafts.active_time_to_add):
every draft save reads the user's last contact on their other assignments, and its
UPDATE checks that none is later. On user_id alone both read every assignment the user
ever had (thousands for a busy annotator, a row each); with draft_saved_at in the index
each is one probe. The index on user_id alone stays: without it SQLite (no statistics
on assignments) reads a user's active assignments (the queue page, claim_any) by the
index on state instead, every active assignment of every user.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 07:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assignments_user_saved", "assignments", ["user_id", "draft_saved_at"])


def downgrade() -> None:
    op.drop_index("ix_assignments_user_saved", table_name="assignments")

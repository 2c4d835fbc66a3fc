"""annotations.record: the members of a version's exported record fixed at submit

The jsonl export and the lab API's annotation pages read, for every version, its
findings and hint verdicts and built their JSON each time: a third of an export's
time was SQLite reading findings. A version never changes once submitted, so the
record's members fixed then (rubric, time, order, scores, ranking, rationale,
confidence, findings, hint verdicts, candidates by label) are written with it as
JSON text (harness/records.py). NULL for versions from before this revision until
`harness.setup.migrate` fills them; a read builds the same text for any left NULL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 15:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("annotations", sa.Column("record", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_column("record")

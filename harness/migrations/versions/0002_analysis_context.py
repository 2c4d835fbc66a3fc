"""analyses keyed by context too: one row per (content_hash, versions_key, context_hash)

The context (harness.analysis.store.context_hash: language, the task's tests, the
size cap) used to live in summary["context_hash"], and a row analysed under other
tests was overwritten in place, so two tasks with the same candidate content read
each other's hints.

Data step: existing rows are kept (they are a cache, but re-analysing a large
project takes long). Each row's hints were computed under the context recorded in
its summary, so context_hash is copied from summary["context_hash"]; a row without
one (or with anything but a 64-character hash there) gets "", which no task's
context equals: it is never served, and `harness analyze PROJECT` writes the
current row beside it. The copy is one UPDATE whose JSON lookup SQLAlchemy compiles
for the backend (JSON_EXTRACT on SQLite, ->> on PostgreSQL). summary["context_hash"]
is left in place; new rows no longer write it.

Downgrade keeps the newest row (highest id) of each (content_hash, versions_key),
since the old key allows only one, and drops the column. Rows written after this
revision have no summary["context_hash"], so the old code re-analyses them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD_UNIQUE = "uq_analyses_content_hash_versions_key"
NEW_UNIQUE = "uq_analyses_content_hash_versions_key_context_hash"

analyses = sa.table(
    "analyses",
    sa.column("id", sa.Integer()),
    sa.column("content_hash", sa.String(64)),
    sa.column("versions_key", sa.String(64)),
    sa.column("context_hash", sa.String(64)),
    sa.column("summary", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context_hash", sa.String(length=64), nullable=True))

    stored = analyses.c.summary["context_hash"].as_string()
    op.execute(
        analyses.update().values(
            context_hash=sa.case((sa.func.length(stored) == 64, stored), else_=sa.literal(""))
        )
    )

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.alter_column("context_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint(OLD_UNIQUE, type_="unique")
        batch_op.create_unique_constraint(
            NEW_UNIQUE, ["content_hash", "versions_key", "context_hash"]
        )


def downgrade() -> None:
    newest = sa.select(sa.func.max(analyses.c.id)).group_by(
        analyses.c.content_hash, analyses.c.versions_key
    )
    op.execute(analyses.delete().where(analyses.c.id.not_in(newest)))

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_constraint(NEW_UNIQUE, type_="unique")
        batch_op.create_unique_constraint(OLD_UNIQUE, ["content_hash", "versions_key"])
        batch_op.drop_column("context_hash")

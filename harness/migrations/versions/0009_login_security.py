"""users.session_epoch and login_failures: sessions end with a password change, logins
are rate limited across processes

A session carries its user's epoch (web.auth); changing a password bumps it, so every
other session of that user is refused on its next request. Failed logins are rows
(one per account key, one per client address key) so that several server processes
count the same failures; rows older than the window are deleted as new ones come.
Existing users start at epoch 0, so their sessions made before this migration (which
carry no epoch) end once: they log in again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 06:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_key_at", table_name="login_failures")
    op.drop_table("login_failures")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")

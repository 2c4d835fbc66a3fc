"""tasks.holding and tasks.is_full, kept by the database; the lapsed leases by index

A claim looks for the project's first tasks, in order, that the user has not had and
that fewer than k assignments hold (active or submitted). It counted each task's
holders as it went, so it read every full task before the first open one: a claim grew
with the project's progress (20,000 tasks, 19,000 full: 35 ms on SQLite, 47 ms on
PostgreSQL, against 4.5 and 8 ms on a fresh project). Each task now keeps how many
assignments hold it and whether that is the project's k, and ix_tasks_project_open walks
only the open ones. Every claim first expires the lapsed leases of every project, and
found them by reading every assignment (3 ms of the 6.8 at 38,000 assignments on
SQLite, with the write lock held): ix_assignments_state_lease finds the active ones past
their lease.

Triggers keep both, so every path that changes an assignment's state (a claim, a lease
expiring or revived, a skip, a member removed, a cascade) and every change of a
project's k keeps them exact, whatever statement made the change. A later migration that
makes SQLite rebuild `assignments` or `projects` (batch mode) drops their triggers and
must create them again (tests/test_task_holding.py checks them at head).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The states that hold a task are harness.leases.HOLDING: active and submitted.

SQLITE_TRIGGERS = [
    """CREATE TRIGGER tasks_holding_insert AFTER INSERT ON assignments
    WHEN NEW.state IN ('active', 'submitted')
    BEGIN
        UPDATE tasks SET holding = holding + 1, is_full = (holding + 1 >=
            (SELECT overlap FROM projects WHERE projects.id = tasks.project_id))
        WHERE id = NEW.task_id;
    END""",
    """CREATE TRIGGER tasks_holding_delete AFTER DELETE ON assignments
    WHEN OLD.state IN ('active', 'submitted')
    BEGIN
        UPDATE tasks SET holding = holding - 1, is_full = (holding - 1 >=
            (SELECT overlap FROM projects WHERE projects.id = tasks.project_id))
        WHERE id = OLD.task_id;
    END""",
    """CREATE TRIGGER tasks_holding_update AFTER UPDATE OF state ON assignments
    WHEN (OLD.state IN ('active', 'submitted')) <> (NEW.state IN ('active', 'submitted'))
    BEGIN
        UPDATE tasks SET
            holding = holding + (CASE WHEN NEW.state IN ('active', 'submitted') THEN 1 ELSE -1 END),
            is_full = (holding + (CASE WHEN NEW.state IN ('active', 'submitted') THEN 1 ELSE -1 END)
                       >= (SELECT overlap FROM projects WHERE projects.id = tasks.project_id))
        WHERE id = NEW.task_id;
    END""",
    """CREATE TRIGGER tasks_full_overlap AFTER UPDATE OF overlap ON projects
    WHEN NEW.overlap <> OLD.overlap
    BEGIN
        UPDATE tasks SET is_full = (holding >= NEW.overlap) WHERE project_id = NEW.id;
    END""",
]
SQLITE_DROP = ["tasks_holding_insert", "tasks_holding_delete", "tasks_holding_update",
               "tasks_full_overlap"]

POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION tasks_holding() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        delta integer := 0;
        task integer;
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF OLD.state IN ('active', 'submitted') THEN
                delta := delta - 1;
            END IF;
            task := OLD.task_id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF NEW.state IN ('active', 'submitted') THEN
                delta := delta + 1;
            END IF;
            task := NEW.task_id;
        END IF;
        IF delta <> 0 THEN
            UPDATE tasks SET holding = holding + delta, is_full = (holding + delta >=
                (SELECT overlap FROM projects WHERE projects.id = tasks.project_id))
            WHERE id = task;
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER tasks_holding AFTER INSERT OR DELETE OR UPDATE OF state ON assignments
    FOR EACH ROW EXECUTE FUNCTION tasks_holding()""",
    """CREATE FUNCTION tasks_full_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.overlap IS DISTINCT FROM OLD.overlap THEN
            UPDATE tasks SET is_full = (holding >= NEW.overlap) WHERE project_id = NEW.id;
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER tasks_full_overlap AFTER UPDATE OF overlap ON projects
    FOR EACH ROW EXECUTE FUNCTION tasks_full_overlap()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER tasks_holding ON assignments",
    "DROP FUNCTION tasks_holding()",
    "DROP TRIGGER tasks_full_overlap ON projects",
    "DROP FUNCTION tasks_full_overlap()",
]


def upgrade() -> None:
    op.add_column("tasks", sa.Column("holding", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("tasks", sa.Column("is_full", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.execute("UPDATE tasks SET holding = (SELECT count(*) FROM assignments WHERE "
               "assignments.task_id = tasks.id AND assignments.state IN ('active', 'submitted'))")
    op.execute("UPDATE tasks SET is_full = "
               "(holding >= (SELECT overlap FROM projects WHERE projects.id = tasks.project_id))")
    op.create_index("ix_tasks_project_open", "tasks", ["project_id", "is_full", "position"])
    op.create_index("ix_assignments_state_lease", "assignments", ["state", "lease_expires_at"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_DROP:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_assignments_state_lease", table_name="assignments")
    op.drop_index("ix_tasks_project_open", table_name="tasks")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("is_full")
        batch_op.drop_column("holding")

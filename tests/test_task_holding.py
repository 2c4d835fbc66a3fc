"""tasks.holding and tasks.is_full (migration 0013): kept exact by the database through
every change of an assignment's state and of a project's k, and what lets a claim skip
the full tasks instead of reading them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic import command
from helpers import task_line, write_jsonl
from helpers.queries import rows_read, statements_on
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from harness import accounts, assignments, leases, projects
from harness.db import make_engine
from harness.importer import import_tasks
from harness.models import Assignment, Project, Task, User, utcnow
from harness.setup import alembic_config, migrate

SLOTS = {"active", "submitted"}  # harness.leases.HOLDING


def kept_right(db: Session) -> list[tuple[str, int, int, bool]]:
    """Tasks whose kept figures differ from a count of their assignments:
    (task, kept holding, counted, kept is_full)."""
    db.expire_all()
    wrong = []
    for task, project in db.execute(select(Task, Project).join(Project)).all():
        counted = db.scalar(select(func.count(Assignment.id)).where(
            Assignment.task_id == task.id, Assignment.state.in_(SLOTS)))
        if task.holding != counted or task.is_full != (counted >= project.overlap):
            wrong.append((task.external_id, task.holding, counted, task.is_full))
    return wrong


def claim(db: Session, user: User, project: Project, **kw: Any) -> Assignment | None:
    found = assignments.claim_next(db, user.id, project, **kw).assignment
    db.commit()
    return found


def test_every_change_of_state_and_of_k_keeps_the_figures(
        db, make_project, make_user, import_file, tmp_path) -> None:
    project = make_project("h", overlap=2, lease_minutes=30)
    import_file(project, write_jsonl(tmp_path / "t.jsonl",
                                     [task_line(f"t{i}") for i in range(4)]))
    ann, ben, cat = (make_user(n, projects=["h"]) for n in ("ann", "ben", "cat"))
    assert kept_right(db) == []

    first = claim(db, ann, project)  # insert, active
    second = claim(db, ben, project)
    assert first is not None and second is not None and first.task_id == second.task_id
    full = db.get(Task, first.task_id)
    assert full is not None and (full.holding, full.is_full) == (2, True)
    assert kept_right(db) == []

    first.state = "submitted"  # active -> submitted: still holds
    db.commit()
    assert kept_right(db) == []
    assignments.skip(db, second, "not my language")  # active -> skipped: frees a slot
    db.commit()
    assert kept_right(db) == []
    third = claim(db, cat, project)  # the freed slot first
    assert third is not None and third.task_id == first.task_id
    assert kept_right(db) == []

    later = utcnow() + timedelta(hours=1)
    fourth = claim(db, ann, project, now=later)  # ann's next task
    assert fourth is not None
    leases.expire_leases(db, utcnow() + timedelta(days=1))  # bulk: active -> expired
    db.commit()
    assert kept_right(db) == []
    revived = claim(db, ann, project, now=utcnow() + timedelta(days=1))  # expired -> active
    assert revived is not None and revived.id == fourth.id
    assert kept_right(db) == []

    projects.remove_member(db, project, ann.id, by=None)  # bulk: their active ones expire
    db.commit()
    assert kept_right(db) == []
    db.execute(delete(Assignment).where(Assignment.user_id == cat.id))  # delete
    db.commit()
    assert kept_right(db) == []

    for k in (1, 3, 1):  # the lead changes k: every task's flag follows
        db.execute(update(Project).where(Project.id == project.id).values(overlap=k))
        db.commit()
        assert kept_right(db) == []
    assert db.get(Task, first.task_id).is_full  # type: ignore[union-attr]


def _fill(db: Session, project: Project, users: list[User], tasks: int) -> None:
    """The project's first `tasks` tasks submitted by every one of `users` (the database
    keeps the figures: these inserts go through the triggers too)."""
    ids = list(db.scalars(select(Task.id).where(Task.project_id == project.id)
                          .order_by(Task.position).limit(tasks)))
    now = utcnow()
    db.execute(insert(Assignment), [
        {"project_id": project.id, "task_id": t, "user_id": u.id, "state": "submitted",
         "display_order": [], "submitted_at": now} for t in ids for u in users])
    db.commit()


def test_a_claim_skips_the_full_tasks_without_reading_them(
        database, db, engine, make_project, make_user, import_file, tmp_path) -> None:
    """600 tasks full before the first open one: a claim reads the open ones it needs,
    not the 600 (it counted every full task's holders before; 20,000 tasks with 19,000
    full took 35 ms a claim on SQLite, 47 ms on PostgreSQL)."""
    project = make_project("big", overlap=2)
    import_file(project, write_jsonl(tmp_path / "t.jsonl",
                                     [task_line(f"t{i}") for i in range(700)]))
    done = [make_user(f"done{i}", projects=["big"]) for i in range(2)]
    user = make_user("ann", projects=["big"])
    _fill(db, project, done, 600)
    assert kept_right(db) == []
    if database == "postgresql":
        db.execute(text("ANALYZE tasks, assignments"))  # autovacuum's figures, as a day later
        db.commit()

    with statements_on(engine, "FROM tasks", "LIMIT") as searches:
        got = assignments.claim_next(db, user.id, project).assignment
    assert got is not None and db.get(Task, got.task_id).position == 601  # type: ignore[union-attr]
    db.rollback()
    statement, parameters = searches[0]
    connection = db.connection()
    if database == "postgresql":
        assert rows_read(connection, statement, parameters, "tasks") <= 2 * assignments.SCAN
    else:
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters))
        assert "ix_tasks_project_open" in plan, plan


def test_a_claim_on_a_finished_project_says_so_without_reading_every_task(
        database, db, engine, make_project, make_user, import_file, tmp_path) -> None:
    """Once every task is full, each claim says why there is nothing (all done, or taken
    by others' leases); it counted every task's submissions to know (the whole project on
    every visit to the queue at the end of one). Its work no longer grows with the tasks:
    PostgreSQL's plans read a bounded number of task rows, and SQLite runs about as many
    instructions for 600 tasks as for 60."""
    work: dict[str, int] = {}
    sizes = {"small": 60, "large": 600}
    made = {slug: make_project(slug, overlap=2) for slug in sizes}
    people = [make_user(f"done{i}", projects=list(sizes)) for i in range(2)]
    user = make_user("ann", projects=list(sizes))
    for slug, n in sizes.items():
        project = made[slug]
        import_file(project, write_jsonl(tmp_path / f"{slug}.jsonl",
                                         [task_line(f"t{i}") for i in range(n)]))
        _fill(db, project, people, n)
        if database == "postgresql":
            db.execute(text("ANALYZE tasks, assignments"))
            db.commit()
        steps = [0]
        raw = db.connection().connection.driver_connection
        if database == "sqlite":  # the instructions SQLite runs, by hundreds
            raw.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 100)
        try:
            with statements_on(engine, "FROM tasks") as searches:
                assert assignments.claim_next(db, user.id, project).reason == "all_done"
        finally:
            if database == "sqlite":
                raw.set_progress_handler(None, 100)
        db.rollback()
        if database == "postgresql":
            read = sum(rows_read(db.connection(), statement, parameters, "tasks")
                       for statement, parameters in searches)
            db.rollback()
            assert read <= 2 * assignments.SCAN, (slug, read)
        work[slug] = steps[0]
    if database == "sqlite":
        assert work["large"] <= 1.5 * work["small"] + 10, work


def test_expiring_the_lapsed_leases_reads_only_the_active_ones(
        database, db, engine, make_project, make_user, import_file, tmp_path) -> None:
    """Every claim expires the lapsed leases first (on SQLite with the write lock held);
    it read every assignment to find them (3 ms a claim at 38,000). On PostgreSQL the
    tasks whose figures the expiry changes are locked first, in id order: two claims
    expiring their shares of the same tasks' leases would otherwise lock them in crossing
    orders (a deadlock, one claim answered 500)."""
    project = make_project("old", overlap=2)
    import_file(project, write_jsonl(tmp_path / "t.jsonl",
                                     [task_line(f"t{i}") for i in range(603)]))
    _fill(db, project, [make_user(f"done{i}", projects=["old"]) for i in range(2)], 600)
    long_ago = utcnow() - timedelta(days=1)
    for name in ("a", "b", "c"):  # three leases that ran out, on two tasks
        assert claim(db, make_user(name, projects=["old"]), project, now=long_ago) is not None
    if database == "postgresql":
        db.execute(text("ANALYZE assignments"))
        db.commit()
    with statements_on(engine) as sent:
        assert leases.expire_leases(db) == 3
    assert kept_right(db) == []
    db.rollback()
    statement, parameters = sent[0]
    assert "lease_expires_at" in statement, sent
    connection = db.connection()
    if database == "postgresql":
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement,
                                          parameters).scalar_one()
        # by the index on state first (the project's (project_id, state) index, scanned
        # whole, was its way without it)
        assert "ix_assignments_state_lease" in json.dumps(plan), plan
        lock, update_ = (" ".join(s.split()) for s, _ in sent[1:])
        assert lock.startswith("SELECT tasks.id FROM tasks") and lock.endswith(
            "ORDER BY tasks.id FOR NO KEY UPDATE"), lock
        assert update_.startswith("UPDATE assignments"), update_
    else:
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters))
        assert "ix_assignments_state_lease" in plan, plan
    db.rollback()


def test_0013_counts_the_assignments_made_before_it(empty_database_url: str,
                                                     tmp_path: Path) -> None:
    """Tasks held before 0013 (made at head, then taken back to 0012, which drops the
    figures and the triggers) get their figures when it runs again."""
    engine = make_engine(empty_database_url)
    try:
        migrate(engine)
        spec = tmp_path / "p.yaml"
        spec.write_text(f"name: p\nslug: p\noverlap: 2\nrubric: "
                        f"{Path(__file__).resolve().parents[1] / 'rubrics/code-review.yaml'}\n")
        with Session(engine) as session:
            project, _ = projects.create_project(session, spec)
            import_tasks(session, project, write_jsonl(
                tmp_path / "t.jsonl", [task_line(f"t{i}") for i in range(3)]))
            people = [accounts.add_user(session, f"u{i}", "annotator", password=None,
                                        projects=["p"]) for i in range(2)]
            session.commit()
            _fill(session, project, people, 1)
        command.downgrade(alembic_config(engine), "0012")
        with engine.begin() as conn:  # work done meanwhile by the older release
            conn.execute(text("UPDATE assignments SET state = 'expired' WHERE id = "
                              "(SELECT min(id) FROM assignments)"))
        command.upgrade(alembic_config(engine), "head")
        with Session(engine) as session:
            assert kept_right(session) == []
            figures = session.execute(select(Task.external_id, Task.holding, Task.is_full)
                                      .order_by(Task.position)).all()
            assert [tuple(f) for f in figures] == [("t0", 1, False), ("t1", 0, False),
                                                   ("t2", 0, False)]
            # and the triggers are back
            session.execute(update(Assignment).values(state="submitted"))
            session.commit()
            assert kept_right(session) == []
            assert session.get(Task, session.scalar(
                select(Task.id).where(Task.external_id == "t0"))).is_full  # type: ignore[union-attr]
    finally:
        engine.dispose()


"""The kept per-task figures (task_stats) stay equal to a recomputation from every
annotation after submits, re-submits, skips and adjudications, and the lead's pages
read them instead of the annotations."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from helpers import task_line, write_jsonl
from lead.support import annotate_task, payload_for
from sqlalchemy import func, select

from harness import agreement, assignments, stats
from harness.adjudication import AdjudicationIn, adjudication_queue, record_adjudication
from harness.annotate import submit_annotation
from harness.models import Adjudication, Assignment, Project, Task, TaskStats
from harness.reviews import task_reviews
from harness.rubric import body_of

SOURCE = "def add(a, b):\n    x = a\n    y = b\n    return x + y\n"


def varied(seed: int):
    """A build hook: scores, a ranking (ties sometimes) and findings drawn from `seed`."""
    rng = random.Random(seed)

    def build(assignment: Assignment, payload: dict[str, Any]) -> dict[str, Any]:
        for row in payload["scores"].values():
            for key in row:
                row[key] = rng.randint(1, 5)
        ids = [c.id for c in assignment.task.candidates]
        rng.shuffle(ids)
        payload["ranking"] = [ids] if rng.random() < 0.2 else [[i] for i in ids]
        payload["findings"] = [
            {"candidate_id": rng.choice(ids), "file_path": "solution.py",
             "line_start": (start := rng.randint(1, 3)), "line_end": start + rng.randint(0, 1),
             "category": rng.choice(["bug", "style"]), "severity": "low", "comment": ""}
            for _ in range(rng.randint(0, 2))]
        return payload

    return build


def recomputed(db, project: Project) -> dict[int, tuple[Any, ...]]:
    """task id -> (submitted, skipped, alpha, w, findings, positions) from every annotation,
    by the functions the pages used before task_stats."""
    out: dict[int, tuple[Any, ...]] = {}
    for task_id, rated in agreement.rated_by_task(db, project, list(db.scalars(
            select(Task.id).where(Task.project_id == project.id)))):
        figures = agreement.task_agreement(task_id, rated)
        out[task_id] = (len(rated), figures.alpha, figures.w, figures.findings,
                        stats.positions_of(rated).to_json())
    return out


def kept(db, project: Project) -> dict[int, tuple[Any, ...]]:
    db.expire_all()
    return {row.task_id: (row.submitted, row.alpha, row.w, row.findings, row.positions)
            for row in db.scalars(select(TaskStats).where(TaskStats.project_id == project.id))
            if row.submitted}


def skipped_counts(db, project: Project) -> dict[int, int]:
    kept_rows = {row.task_id: row.skipped for row in db.scalars(
        select(TaskStats).where(TaskStats.project_id == project.id)) if row.skipped}
    return kept_rows


def assert_equal(db, project: Project) -> None:
    """The rows as they are (no fill_missing: a missed refresh would show here)."""
    fresh, rows = recomputed(db, project), kept(db, project)
    assert rows.keys() == fresh.keys()
    for task_id, want in fresh.items():
        got = rows[task_id]
        assert got[0] == want[0] and got[4] == want[4], task_id
        assert got[1:4] == pytest.approx(want[1:4], abs=1e-12), task_id
    whole = agreement.project_agreement(db, project)
    pooled = stats.project_figures(db, project)
    assert (pooled.tasks, [t.task_id for t in pooled.per_task]) == (
        whole.tasks, [t.task_id for t in whole.per_task])
    for got_v, want_v in ((pooled.alpha, whole.alpha), (pooled.w_mean, whole.w_mean),
                          (pooled.findings_mean, whole.findings_mean)):
        assert (got_v is None) == (want_v is None)
        if want_v is not None:
            assert got_v == pytest.approx(want_v, abs=1e-12)


@pytest.fixture
def busy(db, make_project, make_user, import_file, tmp_path: Path):
    project = make_project("ts", overlap=3)
    lines = [task_line(f"t{i}", candidates=[
        {"id": label, "model": "m", "files": {"solution.py": SOURCE.replace("x + y", op)}}
        for label, op in (("a", "x + y"), ("b", "x - y"), ("c", "y + x"))]) for i in range(4)]
    import_file(project, write_jsonl(tmp_path / "t.jsonl", lines))
    users = [make_user(f"u{i}", projects=["ts"]) for i in range(3)]
    return project, users


def test_kept_figures_equal_a_recomputation_after_submits_resubmits_and_skips(db, busy) -> None:
    project, users = busy
    rubric = body_of(project.rubric.content_hash, project.rubric.body)
    seed = 0
    for _round in range(3):
        for user in users:
            seed += 1
            annotate_task(db, project, user, build=varied(seed))
            assert_equal(db, project)

    # a re-submit with other scores and findings: a new version replaces the old in figures
    assignment = db.scalars(select(Assignment).where(
        Assignment.user_id == users[0].id, Assignment.state == "submitted")
        .order_by(Assignment.id)).first()
    before = kept(db, project)[assignment.task_id]
    payload = varied(999)(assignment, payload_for(db, project, assignment))
    result = submit_annotation(db, assignment, project, rubric, payload,
                               acknowledge_warnings=True)
    assert result.annotation is not None and result.annotation.version == 2
    db.commit()
    assert kept(db, project)[assignment.task_id] != before
    assert_equal(db, project)

    # an identical re-submit changes nothing and keeps the figures equal
    again = submit_annotation(db, assignment, project, rubric, payload, acknowledge_warnings=True)
    assert again.unchanged
    db.commit()
    assert_equal(db, project)

    # skips: counted per task; the task's agreement is unchanged
    claim = assignments.claim_next(db, users[1].id, project)
    assert claim.assignment is not None
    skipped_task = claim.assignment.task_id
    assignments.skip(db, claim.assignment, "not my language")
    db.commit()
    assert skipped_counts(db, project) == {skipped_task: 1}
    assert_equal(db, project)


def test_adjudication_marks_the_task_and_leaves_the_queue(db, busy) -> None:
    project, users = busy
    for i, user in enumerate(users):
        for j in range(4):
            annotate_task(db, project, user, build=varied(100 * i + j))
    threshold = 2.0  # every defined figure is below it: every task with figures queues
    queue = adjudication_queue(db, project, threshold)
    assert queue, "the figures queue nothing"
    lowest = [min(v for _, v in e.agreement.figures() if v is not None) for e in queue]
    assert lowest == sorted(lowest)
    first = db.scalars(select(Task).where(Task.external_id == queue[0].external_id)).one()
    reviews = task_reviews(db, first)
    ranking = [[c.id for c in first.candidates]]
    record_adjudication(db, project, first, reviews, AdjudicationIn(ranking=ranking),
                        user_id=users[0].id)
    db.commit()
    assert db.get(TaskStats, first.id).adjudicated
    after = [e.external_id for e in adjudication_queue(db, project, threshold)]
    assert after == [e.external_id for e in queue[1:]]
    assert db.scalar(select(Adjudication.task_id)) == first.id


def test_rows_missing_from_an_older_database_are_filled_on_first_read(db, busy) -> None:
    project, users = busy
    for user in users:
        annotate_task(db, project, user, build=varied(user.id))
    db.query(TaskStats).delete()
    db.commit()
    assert stats.project_figures(db, project).tasks == 1
    db.commit()
    assert_equal(db, project)


def test_agreement_and_dashboard_pages_read_no_annotations(db, busy, make_user, login,
                                                           count_queries) -> None:
    """Only the kept rows: no statement touches annotations, except the dashboard's
    submissions-per-day count (one grouped query) and its gold scores (gold tasks only)."""
    project, users = busy
    for user in users:
        for j in range(2):
            annotate_task(db, project, user, build=varied(user.id * 10 + j))
    make_user("boss", role="lead", projects=["ts"])
    client = login("boss")
    for url in ("/p/ts/agreement", "/p/ts/adjudication", "/p/ts/dashboard",
                "/p/ts/dashboard/agreement.csv", "/p/ts/dashboard/positions.csv"):
        with count_queries() as queries:
            assert client.get(url).status_code == 200, url
        touching = [q for q in queries if " annotations" in q]
        if url.endswith("/dashboard"):
            touching = [q for q in touching if "GROUP BY date(" not in q
                        and "tasks.is_gold IS 1" not in q and "tasks.is_gold IS true" not in q]
        assert not touching, f"{url} read annotations:\n" + "\n".join(touching)


def test_concurrent_submits_to_one_task_leave_its_figures_whole(db, session_factory,
                                                                 make_project, make_user,
                                                                 import_file, tmp_path) -> None:
    """Two annotators submit the same task at once, each in its own transaction: the
    second refresh waits for the first (the task row's lock on PostgreSQL, the write lock
    on SQLite) and counts both annotations."""
    import threading

    project = make_project("cc", overlap=2)
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1")]))
    users = [make_user(f"c{i}", projects=["cc"]) for i in range(2)]
    claimed = []
    for user in users:
        claim = assignments.claim_next(db, user.id, project)
        assert claim.assignment is not None
        claimed.append(claim.assignment.id)
    db.commit()
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def submit(assignment_id: int, seed: int) -> None:
        with session_factory() as s:
            try:
                own = s.get(Assignment, assignment_id)
                proj = s.get(Project, project.id)
                payload = varied(seed)(own, payload_for(s, proj, own))
                rubric = body_of(proj.rubric.content_hash, proj.rubric.body)
                barrier.wait(10)
                result = submit_annotation(s, own, proj, rubric, payload,
                                           acknowledge_warnings=True)
                assert result.annotation is not None, result.errors
                s.commit()
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

    threads = [threading.Thread(target=submit, args=(a, i)) for i, a in enumerate(claimed)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    assert kept(db, project)[db.scalar(select(Task.id))][0] == 2
    assert_equal(db, project)


def test_upgrading_an_older_database_fills_the_kept_figures(db, engine, busy) -> None:
    """A database from before task_stats (downgraded to 0006 here) gets every task's row
    during `migrate`, not on the first page a lead opens."""
    from alembic import command

    from harness.setup import alembic_config, migrate

    project, users = busy
    for user in users:
        annotate_task(db, project, user, build=varied(user.id + 50))
    db.close()
    command.downgrade(alembic_config(engine), "0006")
    migrate(engine)
    assert db.scalar(select(func.count()).select_from(TaskStats)) == 1
    assert_equal(db, project)

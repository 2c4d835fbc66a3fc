"""Active time is capped per person, not per assignment: an annotator holding tasks in
several projects is credited at most the wall-clock time, whether the saves and heartbeats
to those tasks come one after another or at once (the audit's finding: N tasks, N times
the time)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from helpers import csrf_from, task_line, write_jsonl
from sqlalchemy import select, update

from harness import annotate, assignments
from harness.annotate.common import CLOCK_SLACK
from harness.models import Assignment, Project, utcnow

SLUGS = ("pa", "pb", "pc")


@pytest.fixture
def held(db, make_project, make_user, import_file, tmp_path):  # type: ignore[no-untyped-def]
    """One active assignment of "ann" in each of three projects: [(project, assignment)]."""
    projects = [make_project(slug) for slug in SLUGS]
    for p in projects:
        import_file(p, write_jsonl(tmp_path / f"{p.slug}.jsonl", [task_line("t1")]))
    user = make_user("ann", projects=list(SLUGS))
    out = []
    for p in projects:
        claim = assignments.claim_next(db, user.id, p)
        assert claim.assignment is not None
        out.append((p, claim.assignment))
    db.commit()
    return out


def _credited(db, held) -> float:  # type: ignore[no-untyped-def]
    db.expire_all()
    return sum(db.get(Assignment, a.id).active_seconds for _, a in held)


@pytest.mark.parametrize("kind", ["heartbeat", "draft"])
def test_sequential_saves_to_several_tasks_credit_at_most_the_wall_time(db, held, kind) -> None:
    start = max(a.created_at for _, a in held)
    for minute in (10, 20, 30):
        now = start + timedelta(minutes=minute)
        for i, (p, a) in enumerate(held):
            draft = None if kind == "heartbeat" else {"rationale": f"at {minute} in {i}"}
            annotate.save_draft(db, a, p, draft, active_seconds=600, now=now)
        db.commit()
    # 30 wall minutes: 1800 s, three tasks claiming 600 s each every 10 minutes
    assert _credited(db, held) <= 1800 + 3 * CLOCK_SLACK
    # the first task of each round got its real time
    assert db.get(Assignment, held[0][1].id).active_seconds >= 1800


def test_an_honest_annotator_switching_between_two_tabs_gets_the_real_time(db, held) -> None:
    """Tab A in use for 5 minutes (its save on hiding), then tab B for 5 (its heartbeats):
    10 minutes, all credited; a hidden tab sends nothing."""
    (pa, a), (pb, b) = held[:2]
    start = max(x.created_at for _, x in held)
    annotate.save_draft(db, a, pa, None, active_seconds=0, now=start)
    annotate.save_draft(db, b, pb, None, active_seconds=0, now=start)
    db.commit()
    assert annotate.save_draft(db, a, pa, None, active_seconds=150,
                               now=start + timedelta(seconds=150)) == 150
    assert annotate.save_draft(db, a, pa, {"rationale": "a"}, active_seconds=150,
                               now=start + timedelta(seconds=300)) == 150
    assert annotate.save_draft(db, b, pb, None, active_seconds=30,
                               now=start + timedelta(seconds=330)) == 30
    assert annotate.save_draft(db, b, pb, {"rationale": "b"}, active_seconds=270,
                               now=start + timedelta(seconds=600)) == 270
    db.commit()
    assert _credited(db, held) == 600


def test_a_single_task_is_credited_as_before(db, held) -> None:
    """The other tasks' old contacts do not bound a task's time by more than its own."""
    (pa, a), (pb, b) = held[:2]
    start = max(x.created_at for _, x in held)
    annotate.save_draft(db, b, pb, None, active_seconds=0, now=start)  # B: last touched then
    added = annotate.save_draft(db, a, pa, {"rationale": "x"}, active_seconds=600,
                                now=start + timedelta(minutes=10))
    assert added == 600
    # a claim beyond the elapsed time: the elapsed time plus the clock slack, as before
    added = annotate.save_draft(db, a, pa, None, active_seconds=600,
                                now=start + timedelta(minutes=15))
    assert added == 300 + CLOCK_SLACK


@pytest.mark.parametrize("kind", ["heartbeat", "draft"])
def test_concurrent_saves_to_several_tasks_credit_at_most_the_wall_time(
        app, client, login, db, held, kind) -> None:  # type: ignore[no-untyped-def]
    """Three requests at once, one per task, each claiming the 10 minutes since the last
    contact: 600 s in all (each request has its own client, session and connection)."""
    ten_ago = utcnow() - timedelta(minutes=10)
    db.execute(update(Assignment).where(Assignment.id.in_([a.id for _, a in held]))
               .values(draft_saved_at=ten_ago))
    db.commit()
    login("ann")
    token = csrf_from(client.get("/p/pa/queue").get_data(as_text=True))
    cookie = client.get_cookie("session")
    assert cookie is not None
    rounds = 3
    barrier = threading.Barrier(len(held))
    statuses: list[Any] = []

    def one(slug: str, assignment_id: int) -> None:
        with app.test_client() as c:
            c.set_cookie("session", cookie.value)
            for r in range(rounds):
                body = {"draft": None if kind == "heartbeat" else {"rationale": f"r{r}"},
                        "active_seconds": 600}
                barrier.wait()
                resp = c.post(f"/p/{slug}/a/{assignment_id}/draft", json=body,
                              headers={"X-CSRFToken": token})
                statuses.append(resp.status_code)

    threads = [threading.Thread(target=one, args=(p.slug, a.id)) for p, a in held]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = (utcnow() - ten_ago).total_seconds()
    assert statuses == [200] * (rounds * len(held)), statuses
    credited = _credited(db, held)
    assert 600 <= credited <= wall + rounds * CLOCK_SLACK, (credited, wall)


def test_the_concurrent_service_saves_credit_at_most_the_wall_time(session_factory, db,
                                                                   held) -> None:
    """The service on its own (no web request, no lock taken before): two sessions save two
    tasks of one user at once."""
    now = utcnow()
    ten_ago = now - timedelta(minutes=10)
    db.execute(update(Assignment).where(Assignment.id.in_([a.id for _, a in held]))
               .values(draft_saved_at=ten_ago))
    db.commit()
    barrier = threading.Barrier(len(held))
    errors: list[BaseException] = []

    def one(project_id: int, assignment_id: int, i: int) -> None:
        with session_factory() as s:
            mine = s.get(Assignment, assignment_id)
            proj = s.scalars(select(Project).where(Project.id == project_id)).one()
            barrier.wait()
            try:
                annotate.save_draft(s, mine, proj, None if i % 2 else {"rationale": "x"},
                                    active_seconds=600, now=now)
                s.commit()
            except BaseException as exc:  # noqa: BLE001 - the test reports any failure
                errors.append(exc)

    threads = [threading.Thread(target=one, args=(p.id, a.id, i))
               for i, (p, a) in enumerate(held)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert 600 <= _credited(db, held) <= 600 + CLOCK_SLACK

"""The queue: k per task, no repeats, leases, skips, empty states, concurrent claims; access."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from helpers import csrf_from, task_line, write_jsonl
from sqlalchemy import delete, event, func, select, text

from harness import assignments, leases
from harness.errors import InvalidInput
from harness.models import Assignment, ProjectMember, Task, utcnow


@pytest.fixture
def setup(db, make_project, make_user, import_file, tmp_path):  # type: ignore[no-untyped-def]
    def make(n_tasks: int = 3, overlap: int = 2, users: int = 3, **fields):  # type: ignore[no-untyped-def]
        project = make_project("q", overlap=overlap, **fields)
        lines = [task_line(f"t{i}") for i in range(n_tasks)]
        for line in lines:
            line["candidates"].append(
                {"id": "c", "model": "z", "files": {"solution.py": "def add(a, b):\n    return b + a\n"}})
        import_file(project, write_jsonl(tmp_path / "t.jsonl", lines))
        people = [make_user(f"u{i}", projects=["q"]) for i in range(users)]
        return project, people

    return make


def claim(db, user, project, **kw):  # type: ignore[no-untyped-def]
    result = assignments.claim_next(db, user.id, project, **kw)
    db.commit()
    return result


def test_at_most_k_annotators_per_task_and_then_taken(db, setup) -> None:
    project, (a, b, c) = setup(n_tasks=1, overlap=2)
    first, second = claim(db, a, project), claim(db, b, project)
    assert first.assignment.task_id == second.assignment.task_id
    third = claim(db, c, project)
    assert third.assignment is None and third.reason == "taken"
    assert "being reviewed by others" in third.message
    for done in (first, second):
        done.assignment.state = "submitted"
    db.commit()
    assert claim(db, c, project).reason == "all_done"


def test_never_the_same_task_twice_and_resume(db, setup) -> None:
    project, (a, *_) = setup(n_tasks=2, overlap=3)
    one = claim(db, a, project)
    again = claim(db, a, project)
    assert again.resumed and again.assignment.id == one.assignment.id
    one.assignment.state = "submitted"
    db.commit()
    two = claim(db, a, project)
    assert two.assignment.task_id != one.assignment.task_id
    two.assignment.state = "submitted"
    db.commit()
    empty = claim(db, a, project)
    assert empty.assignment is None and empty.reason == "all_done"


def test_lease_expiry_returns_the_task(db, setup) -> None:
    project, (a, b, _) = setup(n_tasks=1, overlap=1)
    held = claim(db, a, project).assignment
    assert held.lease_expires_at is not None
    assert claim(db, b, project).reason == "taken"
    later = utcnow() + timedelta(minutes=31)  # the default lease is 30 minutes
    got = claim(db, b, project, now=later)
    assert got.assignment is not None and got.assignment.task_id == held.task_id
    db.refresh(held)
    assert held.state == "expired"
    # the first annotator cannot take the slot back while someone else holds it
    assert leases.renew_lease(db, held, project, now=later) is False
    # ...and does not get the task again from the queue
    assert claim(db, a, project, now=later).assignment is None


def test_lease_minutes_from_project_settings(db, setup) -> None:
    project, (a, b, _) = setup(n_tasks=1, overlap=1, lease_minutes=5)
    assert leases.lease_minutes(db, project) == 5
    claim(db, a, project)
    assert claim(db, b, project, now=utcnow() + timedelta(minutes=4)).reason == "taken"
    assert claim(db, b, project, now=utcnow() + timedelta(minutes=6)).assignment is not None


def test_expired_assignment_revives_when_the_slot_is_free(db, setup) -> None:
    project, (a, *_) = setup(n_tasks=1, overlap=1)
    held = claim(db, a, project).assignment
    later = utcnow() + timedelta(hours=1)
    leases.expire_leases(db, later)
    db.refresh(held)
    assert held.state == "expired"
    assert leases.renew_lease(db, held, project, now=later) is True
    assert held.state == "active" and held.lease_expires_at > later


def test_own_lapsed_lease_comes_back_with_its_draft(db, setup) -> None:
    project, (a, *_) = setup(n_tasks=2, overlap=1)
    held = claim(db, a, project).assignment
    held.draft = {"rationale": "half-way"}
    db.commit()
    later = utcnow() + timedelta(hours=2)
    back = claim(db, a, project, now=later)
    assert back.resumed and back.assignment.id == held.id
    assert back.assignment.state == "active" and back.assignment.draft == {"rationale": "half-way"}


def test_skip_with_reason(db, setup) -> None:
    project, (a, b, _) = setup(n_tasks=1, overlap=1)
    held = claim(db, a, project).assignment
    with pytest.raises(InvalidInput, match="reason"):
        assignments.skip(db, held, "   ")
    assignments.skip(db, held, "I do not know this library")
    db.commit()
    assert held.state == "skipped" and held.skip_reason == "I do not know this library"
    assert claim(db, a, project).reason == "all_done"  # never back to the skipper
    assert claim(db, b, project).assignment.task_id == held.task_id  # the slot is free


def test_display_order_is_recorded_and_differs_between_annotators(db, setup) -> None:
    project, (a, b, c) = setup(n_tasks=1, overlap=3)
    orders = [claim(db, u, project).assignment.display_order for u in (a, b, c)]
    assert all(sorted(o) == sorted(orders[0]) for o in orders)
    assert len({tuple(o) for o in orders}) == 3
    # stable: the same task and position give the same order
    assert assignments.display_order(7, [1, 2, 3], 1) == assignments.display_order(7, [3, 2, 1], 1)


def test_empty_states(db, make_user, setup) -> None:
    loner = make_user("loner")
    assert assignments.claim_any(db, loner.id).reason == "no_projects"
    project, (a, *_) = setup(n_tasks=1)
    project.state = "paused"
    db.commit()
    assert claim(db, a, project).reason == "paused"
    assert assignments.claim_any(db, a.id).reason == "no_projects"  # paused projects hand out nothing


def test_concurrent_claims_never_exceed_k(session_factory, setup) -> None:
    project, users = setup(n_tasks=3, overlap=2, users=10)
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def work(user_id: int) -> None:
        session = session_factory()
        try:
            proj = session.get(type(project), project.id)
            barrier.wait()
            assignments.claim_next(session, user_id, proj)
            session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            session.rollback()
        finally:
            session.close()

    threads = [threading.Thread(target=work, args=(u.id,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    session = session_factory()
    per_task = dict(session.execute(
        select(Assignment.task_id, func.count()).group_by(Assignment.task_id)).all())
    per_user = dict(session.execute(
        select(Assignment.user_id, func.count()).group_by(Assignment.user_id)).all())
    session.close()
    assert max(per_task.values()) <= 2
    assert sum(per_task.values()) == 6  # 3 tasks x k=2, every slot used once
    assert max(per_user.values()) == 1


@pytest.fixture
def rival_claims(database, session_factory, setup):  # type: ignore[no-untyped-def]
    """PostgreSQL: `start(n_tasks)` makes a project of n tasks (k=2), leaves annotator a's
    claim uncommitted in a first session (its task row stays locked) and gives a second
    session for annotator b, whose lock waits end after 2 s: (project, b, a's claim, first
    session, second session). Both sessions are closed after the test."""
    if database == "sqlite":
        pytest.skip("SQLite has one writer: a second claim waits for the first's commit")
    opened = []

    def start(n_tasks):  # type: ignore[no-untyped-def]
        project, (a, b, *_) = setup(n_tasks=n_tasks, overlap=2)
        first, second = session_factory(), session_factory()
        opened.extend((first, second))
        held = assignments.claim_next(first, a.id, first.get(type(project), project.id))
        assert held.assignment is not None
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        return project, b, held, first, second

    yield start
    for opened_session in opened:
        opened_session.close()


def test_a_claim_under_way_does_not_hold_up_the_next(session_factory, rival_claims) -> None:
    """PostgreSQL: while one claim of the first open task is still uncommitted, another
    annotator's claim takes the next task at once instead of queueing behind its lock.
    (Queued claims each kept the first task's lock to their own commit: 50 annotators
    starting together waited seconds per claim in bench/load.py.)"""
    project, b, held, first, second = rival_claims(3)
    other = assignments.claim_next(second, b.id, second.get(type(project), project.id))
    assert other.assignment is not None
    assert other.assignment.task_id != held.assignment.task_id
    second.commit()
    first.commit()
    # and the task passed over is still there for the next claim, up to k
    later = claim(session_factory(), b, project)
    assert later.assignment is not None and later.resumed  # b's own, not a third task


def test_a_claim_never_waits_on_a_lock_and_retries_busy_tasks(
        rival_claims, monkeypatch) -> None:
    """PostgreSQL: a task whose row another claim holds is never waited on (waiting, with
    a task found full already locked, could deadlock two claims); it is tried again
    until free, so its free slot is not reported taken while the other claim commits."""
    project, b, held, first, second = rival_claims(1)
    monkeypatch.setattr(assignments, "BUSY_WAIT", 0.3)
    started = time.monotonic()
    gave_up = assignments.claim_next(second, b.id, second.get(type(project), project.id))
    assert gave_up.assignment is None and gave_up.reason == "taken"
    assert time.monotonic() - started < 2  # not a lock wait ended by lock_timeout
    second.rollback()

    monkeypatch.setattr(assignments, "BUSY_WAIT", 10.0)
    got: list[assignments.Claim] = []
    waiter = threading.Thread(target=lambda: got.append(assignments.claim_next(
        second, b.id, second.get(type(project), project.id))))
    waiter.start()
    time.sleep(0.5)
    first.commit()  # the slot the waiter wants is still free after this commit
    waiter.join(15)
    assert got and got[0].assignment is not None
    assert got[0].assignment.task_id == held.assignment.task_id
    second.commit()


# --- through the web -------------------------------------------------------------------


def test_queue_page_claims_and_redirects(client, login, setup) -> None:
    setup(n_tasks=1, overlap=1)
    login("u0")
    page = client.get("/queue").get_data(as_text=True)
    resp = client.post("/queue", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert re.fullmatch(r"/p/q/a/\d+", resp.headers["Location"])
    assert client.get(resp.headers["Location"]).status_code == 200
    assert client.post("/queue").status_code == 400  # no CSRF token


def test_queue_empty_state_for_a_user_without_projects(client, login, make_user) -> None:
    make_user("loner")
    login("loner")
    html = client.get("/queue").get_data(as_text=True)
    assert 'data-reason="no_projects"' in html


def test_another_annotators_assignment_is_404(client, login, db, setup) -> None:
    project, (a, b, _) = setup(n_tasks=1, overlap=2)
    theirs = claim(db, a, project).assignment
    login("u1")
    page = client.get("/queue").get_data(as_text=True)
    token = csrf_from(page)
    base = f"/p/q/a/{theirs.id}"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/diff?left=1&right=2").status_code == 404
    headers = {"X-CSRFToken": token}
    assert client.post(f"{base}/draft", json={"draft": {}}, headers=headers).status_code == 404
    assert client.post(f"{base}/submit", json={"draft": {}}, headers=headers).status_code == 404
    assert client.post(f"{base}/skip", data={"csrf_token": token, "reason": "x"}).status_code == 404
    db.refresh(theirs)
    assert theirs.state == "active" and theirs.draft is None


def test_assignment_under_another_project_of_the_user_is_404(
    client, login, db, make_project, setup
) -> None:
    """The user belongs to both projects: the 404 comes from the assignment lookup."""
    project, (a, *_) = setup(n_tasks=1)
    mine = claim(db, a, project).assignment
    other = make_project("other")
    db.add(ProjectMember(project_id=other.id, user_id=a.id))
    db.commit()
    login("u0")
    assert client.get("/p/other/queue").status_code == 200  # a member of "other"
    assert client.get(f"/p/q/a/{mine.id}").status_code == 200
    assert client.get(f"/p/other/a/{mine.id}").status_code == 404  # wrong project in the URL
    assert client.get(f"/p/other/a/{mine.id}/diff?left=1&right=2").status_code == 404


def test_assignment_of_a_project_the_user_left_is_404(client, login, db, setup) -> None:
    project, (a, *_) = setup(n_tasks=1)
    mine = claim(db, a, project).assignment
    login("u0")
    assert client.get(f"/p/q/a/{mine.id}").status_code == 200
    token = csrf_from(client.get("/queue").get_data(as_text=True))
    db.execute(delete(ProjectMember).where(ProjectMember.user_id == a.id))
    db.commit()
    assert client.get(f"/p/q/a/{mine.id}").status_code == 404
    resp = client.post(f"/p/q/a/{mine.id}/draft", json={"draft": {"rationale": "x"}},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 404
    db.refresh(mine)
    assert mine.draft is None


def test_annotators_cannot_see_lead_pages(client, login, make_user, setup) -> None:
    setup(n_tasks=1)
    make_user("boss", role="lead", projects=["q"])
    login("u0")
    assert client.get("/p/q/assignments").status_code == 403
    page = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login("boss")
    assert client.get("/p/q/assignments").status_code == 200


def test_models_hidden_from_annotators_on_blind_projects(client, login, db, make_user, setup) -> None:
    project, (a, *_) = setup(n_tasks=1, overlap=2, blind=True)
    lead = make_user("boss", role="lead", projects=["q"])
    mine = claim(db, a, project).assignment
    theirs = claim(db, lead, project).assignment
    login("u0")
    html = client.get(f"/p/q/a/{mine.id}").get_data(as_text=True)
    assert "model-x" not in html and "model-y" not in html
    page = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login("boss")
    html = client.get(f"/p/q/a/{theirs.id}").get_data(as_text=True)
    assert "model-x" in html and "model-y" in html


def test_skip_form_needs_a_reason_and_frees_the_task(client, login, db, make_user, setup) -> None:
    project, (a, *_) = setup(n_tasks=1, overlap=1)
    held = claim(db, a, project).assignment
    login("u0")
    html = client.get(f"/p/q/a/{held.id}").get_data(as_text=True)
    token = csrf_from(html)
    page = f"http://localhost/p/q/a/{held.id}"
    resp = client.post(f"/p/q/a/{held.id}/skip", data={"csrf_token": token, "reason": " "},
                       headers={"Referer": page})
    assert resp.status_code == 302 and resp.headers["Location"] == page
    assert "say why you skip" in client.get(page).get_data(as_text=True)
    # without a page to go back to, the reason comes on an error page with a way back
    resp = client.post(f"/p/q/a/{held.id}/skip", data={"csrf_token": token, "reason": " "})
    assert resp.status_code == 400 and "say why you skip" in resp.get_data(as_text=True)
    assert "Your projects" in resp.get_data(as_text=True)
    db.refresh(held)
    assert held.state == "active"
    resp = client.post(f"/p/q/a/{held.id}/skip", data={"csrf_token": token, "reason": "<b>not my area</b>"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/p/q/queue")
    db.refresh(held)
    assert held.state == "skipped" and held.skip_reason == "<b>not my area</b>"
    make_user("boss", role="lead", projects=["q"])
    page = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login("boss")
    html = client.get("/p/q/assignments").get_data(as_text=True)
    assert "skipped" in html and "&lt;b&gt;not my area&lt;/b&gt;" in html


def test_only_annotators_claim_and_write(client, login, db, make_user, setup) -> None:
    """A lead's (or lab's) claims would fill k slots and go into exports: 403, said why."""
    project, (a, *_) = setup(n_tasks=2, overlap=2)
    lead = make_user("boss", role="lead", projects=["q"])
    make_user("lab1", role="lab", projects=["q"])
    held = claim(db, lead, project).assignment  # made before the role rule, say
    for name in ("boss", "lab1"):
        login(name)
        page = client.get("/queue")
        html = page.get_data(as_text=True)
        assert 'data-reason="not_annotator"' in html and "Only annotators" in html
        assert 'id="take-next"' not in html
        assert 'id="take-next"' not in client.get("/p/q/queue").get_data(as_text=True)
        token = csrf_from(html)
        for url in ("/queue", "/p/q/queue"):
            resp = client.post(url, data={"csrf_token": token})
            assert resp.status_code == 403 and b"Only annotators" in resp.data
        headers = {"X-CSRFToken": token}
        base = f"/p/q/a/{held.id}"
        for url, body in ((f"{base}/draft", {"draft": {"rationale": "x"}}),
                          (f"{base}/submit", {"draft": {}}),
                          (f"{base}/probe", {"source": "def test_x():\n    pass\n"})):
            resp = client.post(url, json=body, headers=headers)
            assert resp.status_code == 403, url
            assert resp.get_json()["error"]["code"] == "forbidden"
            assert "Only annotators" in resp.get_json()["error"]["message"]
        resp = client.post(f"{base}/skip", data={"csrf_token": token, "reason": "x"})
        assert resp.status_code == 403
        client.post("/logout", data={"csrf_token": token})
    assert db.scalar(select(func.count(Assignment.id))) == 1
    db.refresh(held)
    assert held.state == "active" and held.draft is None
    login("u0")
    assert client.post("/queue", data={"csrf_token": csrf_from(
        client.get("/queue").get_data(as_text=True))}).status_code == 302
    assert db.scalar(select(func.count(Assignment.id))) == 2


def test_task_list_and_task_page_are_for_leads_only(client, login, make_user, setup) -> None:
    setup(n_tasks=2)
    make_user("boss", role="lead", projects=["q"])
    login("u0")
    assert client.get("/p/q/").status_code == 403
    assert client.get("/p/q/t/t1").status_code == 403
    assert client.get("/p/nope/").status_code == 403  # the same answer: nothing leaks
    home = client.get("/").get_data(as_text=True)
    assert 'href="/p/q/queue"' in home and 'href="/p/q/"' not in home
    client.post("/logout", data={"csrf_token": csrf_from(home)})
    login("boss")
    assert client.get("/p/q/").status_code == 200
    assert client.get("/p/q/t/t1").status_code == 200
    home = client.get("/").get_data(as_text=True)
    assert 'href="/p/q/"' in home and "Take the next task" not in home


def test_annotators_see_their_own_submitted_assignments(client, login, db, setup) -> None:
    project, (a, *_) = setup(n_tasks=2)
    done = claim(db, a, project).assignment
    done.state, done.submitted_at = "submitted", utcnow()
    db.commit()
    login("u0")
    html = client.get("/p/q/queue").get_data(as_text=True)
    assert f'href="/p/q/a/{done.id}"' in html and 'id="my-submitted"' in html


def test_take_next_resumes_the_active_task_of_another_project(
    db, make_project, import_file, tmp_path, setup
) -> None:
    project, (a, *_) = setup(n_tasks=1)
    held = claim(db, a, project).assignment
    other = make_project("aaa-first")  # "Project aaa-first" is tried before "Project q"
    import_file(other, write_jsonl(tmp_path / "other.jsonl", [task_line("free")]))
    db.add(ProjectMember(project_id=other.id, user_id=a.id))
    db.commit()
    again = assignments.claim_any(db, a.id)
    db.commit()
    assert again.resumed and again.assignment.id == held.id
    assert db.scalar(select(func.count(Assignment.id)).where(Assignment.user_id == a.id)) == 1


def test_lapsed_lease_revives_when_its_slot_is_free_however_many_lapsed(db, setup) -> None:
    """The slot check is in the query: the one revivable lapsed task is found among many."""
    project, (a, b, _) = setup(n_tasks=7, overlap=1)
    task_ids = db.scalars(select(Task.id).where(Task.project_id == project.id).order_by(Task.id))
    mine = [Assignment(project_id=project.id, task_id=tid, user_id=a.id, state="expired",
                       display_order=[], lease_expires_at=utcnow() - timedelta(minutes=60 - i))
            for i, tid in enumerate(task_ids)]  # the first lapsed longest ago
    db.add_all(mine)
    db.commit()
    for got in mine[1:]:  # others took every task but the first
        db.add(Assignment(project_id=project.id, task_id=got.task_id, user_id=b.id,
                          state="submitted", display_order=[]))
    db.commit()
    back = claim(db, a, project)
    assert back.resumed and back.assignment.id == mine[0].id
    assert back.assignment.state == "active"


def test_reviving_a_lease_locks_the_task_row_first(db, setup) -> None:
    """PostgreSQL: the revival UPDATE runs after SELECT ... FOR UPDATE on the assignment,
    then on the task: the order a claim locks them in (expire_leases, then the task), so
    a claim and a revival cannot deadlock (they did under load with short leases)."""
    project, (a, *_) = setup(n_tasks=1, overlap=1)
    held = claim(db, a, project).assignment
    later = utcnow() + timedelta(hours=1)
    leases.expire_leases(db, later)
    db.refresh(held)
    seen: list[str] = []

    @event.listens_for(db, "do_orm_execute")
    def record(state) -> None:  # type: ignore[no-untyped-def]
        stmt = state.statement
        if state.is_select and getattr(stmt, "_for_update_arg", None) is not None:
            seen.append("lock " + ",".join(t.name for t in stmt.get_final_froms()))
        elif state.is_update:
            seen.append("update " + stmt.table.name)

    try:
        assert leases.renew_lease(db, held, project, now=later) is True
    finally:
        event.remove(db, "do_orm_execute", record)
    assert seen[:3] == ["lock assignments", "lock tasks", "update assignments"]


def test_a_stale_copy_of_an_expired_lease_is_not_extended(db, setup, session_factory) -> None:
    """Found by bench/load.py with a 5 s lease: a save reads its assignment (active), a
    claim then expires that lease and gives the slot away, and the save extended the
    lease from its stale copy and submitted: the task was held by k + 1. The extension
    is now checked by the UPDATE itself."""
    project, (a, b, c) = setup(n_tasks=1, overlap=2)
    t0 = utcnow()
    lease = timedelta(minutes=leases.lease_minutes(db, project))
    first = claim(db, a, project, now=t0).assignment
    claim(db, b, project, now=t0 + lease / 2)  # b's lease outlives a's
    with session_factory() as stale:  # the save's request: reads the row while it is active
        mine = stale.get(Assignment, first.id)
        assert mine.state == "active"
        # meanwhile another annotator claims after the lease ran out and takes the slot
        taken = claim(db, c, project, now=t0 + lease + timedelta(seconds=1)).assignment
        assert taken is not None and taken.task_id == first.task_id
        # the save goes on with its copy, at a time when the lease was still valid to it
        assert not leases.renew_lease(stale, mine, project, now=t0 + lease / 2)
        assert mine.state == "expired"
        stale.commit()
    db.expire_all()
    holding = db.scalar(select(func.count(Assignment.id)).where(
        Assignment.task_id == first.task_id, Assignment.state.in_(("active", "submitted"))))
    assert holding == 2

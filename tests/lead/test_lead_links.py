"""Every link a lead can follow from the lead pages answers them (no 403, 404 or 500),
on a project with reviews, a gold task, an adjudication and a finished import; and the
empty pages of a new project say what to do next."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

import pytest
from helpers import task_line, write_jsonl
from lead.support import annotate_task
from sqlalchemy import select

from harness.models import Task

pytestmark = pytest.mark.sqlite_only  # about pages and links, not SQL

HREF = re.compile(r'href="([^"#]+)')
GOLD = {"findings": [{"candidate": "b", "file_path": "solution.py", "line_start": 2,
                      "line_end": 2, "category": "bug"}], "ranking": [["a"], ["b"]]}


def crawl(client, start: list[str], limit: int = 400) -> dict[str, int]:
    """Status of every same-site link reachable from `start` (static files, downloads
    and logout aside), breadth first."""
    seen: dict[str, int] = {}
    todo = deque(start)
    while todo and len(seen) < limit:
        url = todo.popleft()
        if url in seen:
            continue
        resp = client.get(url)
        seen[url] = resp.status_code
        if resp.mimetype == "text/html":
            for link in HREF.findall(resp.get_data(as_text=True)):
                link = link.replace("&amp;", "&")
                if link.startswith("/") and not link.startswith(("/static/", "/logout")) \
                        and ".csv" not in link and "/export" not in link and link not in seen:
                    todo.append(link)
        resp.close()
    return seen


def test_no_lead_link_is_refused(db, make_project, make_user, import_file, login,
                                 tmp_path: Path) -> None:
    project = make_project("ll", overlap=2, tests=False)
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [
        task_line("t1"), task_line("t2"), task_line("g1", gold=GOLD)]))
    users = [make_user("ann1", projects=["ll"]), make_user("ann2", projects=["ll"])]
    for user in users:
        for _ in range(2):
            annotate_task(db, project, user)
    make_user("boss", role="lead", projects=["ll"])
    client = login("boss")
    statuses = crawl(client, ["/", "/p/ll/", "/p/ll/t/t1", "/p/ll/settings", "/p/ll/import",
                              "/p/ll/dashboard", "/p/ll/agreement", "/p/ll/adjudication"])
    refused = {url: status for url, status in statuses.items() if status >= 400}
    assert not refused, refused
    assert len(statuses) > 15, statuses  # the crawl went somewhere


def test_a_new_projects_empty_pages_say_what_to_do(db, make_project, make_user, login) -> None:
    make_project("empty", tests=False)
    make_user("boss", role="lead", projects=["empty"])
    client = login("boss")
    tasks = client.get("/p/empty/").get_data(as_text=True)
    assert 'href="/p/empty/import"' in tasks
    for url in ("/p/empty/agreement", "/p/empty/adjudication", "/p/empty/dashboard",
                "/p/empty/assignments"):
        html = client.get(url).get_data(as_text=True)
        empty = re.findall(r'class="empty"[^>]*>(.*?)</p>', html, re.S)
        assert empty, url
        assert all(len(e.strip()) > 20 for e in empty), (url, empty)
    assert db.scalars(select(Task)).first() is None


def test_agreement_pages_through_tasks_and_the_dashboard_caps_its_table(
        db, make_project, make_user, import_file, login, tmp_path: Path) -> None:
    from harness.models import TaskStats

    project = make_project("many", overlap=2, tests=False)
    import_file(project, write_jsonl(tmp_path / "t.jsonl",
                                     [task_line(f"t{i:03}") for i in range(101)]))
    for task in db.scalars(select(Task).where(Task.project_id == project.id)):
        db.add(TaskStats(task_id=task.id, project_id=project.id, submitted=2, skipped=0,
                         w=0.5, lowest=0.5, coincidences=[[1.0, 2.0, 1.0], [2.0, 1.0, 1.0]],
                         positions={}, adjudicated=False))
    make_user("boss", role="lead", projects=["many"])
    db.commit()
    client = login("boss")
    first = client.get("/p/many/agreement").get_data(as_text=True)
    assert "101 task(s) with two or more annotations" in first
    assert first.count('href="/p/many/t/t') == 100 and "page 1 of 2" in first
    assert 'href="/p/many/agreement?page=2"' in first
    second = client.get("/p/many/agreement?page=2").get_data(as_text=True)
    assert second.count('href="/p/many/t/t') == 1 and ">t100<" in second
    board = client.get("/p/many/dashboard").get_data(as_text=True)
    table = board.split('id="table-agreement"')[1].split("</section>")[0]
    assert table.count("<tr>") == 51 and "The first 50 of 101 rows" in table

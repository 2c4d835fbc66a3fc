"""The pages annotators and leads hit most send a fixed number of SQL statements, whatever
the number of tasks (no N+1): the project list, the queue claim and the review page.

The numbers are exact on purpose: a change that adds a query shows up here and is made
deliberately (update the number in the same commit, saying why).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from helpers import csrf_from, task_line, write_jsonl
from sqlalchemy import select

from harness import runs
from harness.models import Annotation

# statements per request (the same on SQLite and PostgreSQL; a dialect that needs another
# number gets its own entry)
PROJECT_LIST = {"sqlite": 5, "postgresql": 5}
QUEUE_CLAIM = {"sqlite": 15, "postgresql": 15}  # expire leases, member scope, resume, scan, lock, insert
# the user; the project (membership) with the assignment, task, candidates and rubric; the
# hints; the versions with the progress count. Runs come from runs.json, not here.
REVIEW_PAGE = {"sqlite": 4, "postgresql": 4}
# user, project (membership) with the assignment, its task and candidates and the rubric's
# hash (and the user's last contact on their other assignments, which bounds the active
# time per person; PostgreSQL takes the user's advisory lock in it too), runs (its
# warnings), then one UPDATE: the lease renewed with the revision's
# compare-and-set and the draft, RETURNING the row. (9 before the compare-and-set carried
# the draft, 8 before the lease renewal joined it, 7 before the project and the assignment
# came in one, 6 before the rubric's hash came with them, 5 before the candidates did.)
DRAFT_SAVE = {"sqlite": 4, "postgresql": 4}
# the draft save's 3 (its one UPDATE renews the lease, which also holds the assignment for
# the submit: no second lock), hints, latest version, runs, the assignment's state, webhooks?,
# task stats (3: latest annotations with their findings, skips with adjudication, the row
# upserted; PostgreSQL locks the row first), then the id-order lock (PostgreSQL), the
# version, audit. (Before the write path was trimmed: 11 and 31; before the stats refresh
# became Core statements and the id-order lock moved to the end: 24 and 25; before the
# draft save wrote once: 17 and 19; before the project and the assignment came in one: 16
# and 18; before the rubric's hash came with them: 15 and 17; before the candidates came
# with the assignment: 14 and 16.)
SUBMIT = {"sqlite": 13, "postgresql": 15}


@pytest.fixture
def site(db, make_project, make_user, import_file, tmp_path):  # type: ignore[no-untyped-def]
    """`site(n)`: a lead, an annotator and two projects of n three-candidate tasks each."""

    def make(n: int) -> None:
        for slug in ("a", "b"):
            project = make_project(slug, overlap=2)
            lines = []
            for i in range(n):
                line = task_line(f"t{i}")
                line["candidates"].append(
                    {"id": "c", "model": "model-z",
                     "files": {"solution.py": f"def add(a, b):\n    return b + a  # {i}\n"}})
                lines.append(line)
            report = import_file(project, write_jsonl(tmp_path / f"{slug}.jsonl", lines))
            runs.enqueue_for_tasks(db, project, report.task_ids)
            db.commit()
        make_user("lead1", role="lead", projects=["a", "b"])
        make_user("ann", projects=["a", "b"])

    return make


def _claim(client: Any) -> str:
    """Claims the next task of project a; returns the review page's path."""
    token = csrf_from(client.get("/p/a/queue").get_data(as_text=True))
    resp = client.post("/p/a/queue", data={"csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return str(resp.headers["Location"])


@pytest.mark.parametrize("tasks", [5, 50])
def test_project_list_queries(site, login, count_queries, database, tasks) -> None:  # type: ignore[no-untyped-def]
    site(tasks)
    client = login("lead1")
    client.get("/")  # warm: the first request of a connection may ask the server things
    with count_queries() as queries:
        resp = client.get("/")
    assert resp.status_code == 200
    assert len(queries) == PROJECT_LIST[database], str(queries)


@pytest.mark.parametrize("tasks", [5, 50])
def test_queue_claim_queries(site, login, count_queries, database, tasks) -> None:  # type: ignore[no-untyped-def]
    site(tasks)
    client = login("ann")
    token = csrf_from(client.get("/p/a/queue").get_data(as_text=True))
    with count_queries() as queries:
        resp = client.post("/p/a/queue", data={"csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert len(queries) == QUEUE_CLAIM[database], str(queries)


@pytest.mark.parametrize("tasks", [5, 50])
def test_review_page_queries(site, login, count_queries, database, tasks) -> None:  # type: ignore[no-untyped-def]
    site(tasks)
    client = login("ann")
    page = _claim(client)
    client.get(page)  # warm: hints and highlighting are computed and cached on first view
    with count_queries() as queries:
        resp = client.get(page)
    assert resp.status_code == 200
    assert len(queries) == REVIEW_PAGE[database], str(queries)


def _page_data(client: Any, page: str) -> dict[str, Any]:
    html = client.get(page).get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def _review(page: dict[str, Any]) -> dict[str, Any]:
    ids = [c["id"] for c in page["candidates"]]
    return {"scores": {str(c): {k["key"]: k["max"] for k in page["rubric"]["criteria"]}
                       for c in ids},
            "ranking": [[ids[0]], ids[1:]], "confidence": 4, "findings": [],
            "rationale": "The first candidate reads best; the others are equivalent."}


@pytest.mark.parametrize("tasks", [5, 50])
def test_draft_save_and_submit_queries(site, login, count_queries, database, tasks) -> None:  # type: ignore[no-untyped-def]
    """The two writes of the load test (bench/load.py): an autosave and a submit."""
    site(tasks)
    client = login("ann")
    page = _page_data(client, _claim(client))
    token = csrf_from(client.get("/p/a/queue").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    body = {"draft": _review(page), "active_seconds": 1}
    client.post(page["urls"]["draft"], json=body, headers=headers)  # warm
    with count_queries() as queries:
        resp = client.post(page["urls"]["draft"], json=body, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert len(queries) == DRAFT_SAVE[database], str(queries)
    # the warnings read the runs' states, not their files, tests and output (1.0 ms of
    # psycopg's json decoding a save for four runs, against 0.16)
    runs_read = [q for q in queries if "FROM test_runs" in q]
    assert len(runs_read) == 1, str(queries)
    assert not re.search(r"test_runs\.(files|tests|hidden_tests|result|limits)\b",
                         runs_read[0]), runs_read[0]
    # every read before the one write: SQLite's write lock (and PostgreSQL's row lock) is
    # held from a transaction's first write to its commit, so for one statement here
    writes = [i for i, q in enumerate(queries) if not q.lstrip().upper().startswith("SELECT")]
    assert writes == [len(queries) - 1], str(queries)
    with count_queries() as queries:
        resp = client.post(page["urls"]["submit"], json=body, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["version"] == 1
    assert len(queries) == SUBMIT[database], str(queries)


@pytest.mark.parametrize("findings", [1, 12])
def test_a_submits_findings_are_one_insert_and_stored_as_sent(site, login, count_queries, db,  # type: ignore[no-untyped-def]
                                                               database, findings) -> None:
    """A version's findings go in as one executemany, not an INSERT (and an id fetched
    back) a finding: 12 findings cost the same statements as one, and every one is stored
    with its fields, in the database and in the version's record."""
    site(3)
    client = login("ann")
    page = _page_data(client, _claim(client))
    headers = {"X-CSRFToken": csrf_from(client.get("/p/a/queue").get_data(as_text=True))}
    ids = [c["id"] for c in page["candidates"]]
    sent = [{"candidate_id": ids[i % len(ids)], "file_path": "solution.py",
             "line_start": 1 + i % 2, "line_end": 2, "category": ["bug", "security"][i % 2],
             "severity": ["low", "high"][i % 2], "cwe": [None, 89][i % 2],
             "comment": f"finding {i}: <b>'quoted'</b> \u00e9"} for i in range(findings)]
    body = {"draft": {**_review(page), "findings": sent}, "active_seconds": 1,
            "acknowledge_warnings": True}
    with count_queries() as queries:
        resp = client.post(page["urls"]["submit"], json=body, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["version"] == 1
    inserts = [q for q in queries if q.startswith("INSERT INTO findings")]
    assert len(inserts) == 1, str(queries)
    assert len(queries) == SUBMIT[database] + 1, str(queries)  # + the findings' INSERT
    fields = ("candidate_id", "file_path", "line_start", "line_end", "category", "severity",
              "cwe", "comment")
    annotation = db.scalars(select(Annotation)).one()
    stored = sorted((tuple(getattr(f, k) for k in fields) for f in annotation.findings),
                    key=repr)
    assert stored == sorted((tuple(f[k] for k in fields) for f in sent), key=repr)
    assert all(f.content_hash for f in annotation.findings)
    record = json.loads("{" + annotation.record + "}")  # stored without its braces
    assert len(record["findings"]) == findings
    assert {f["comment"] for f in record["findings"]} == {f["comment"] for f in sent}

"""Highlighted source stored at import (harness.highlight, migration 0014): the analysis
pass stores each content's lines once per language, and the task pages read them instead
of running pygments on a task's first view in a server process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from helpers import csrf_from, task_line, write_jsonl
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from harness import setup
from harness.analysis.store import analyze_many
from harness.highlight import format_key, highlight, unpack
from harness.models import Analysis, Candidate, Highlight, Project

SHARED = {"solution.py": "def add(a, b):\n    '''Add <b>them</b>.'''\n    return a + b\n"}
MARK = '<span class="from-the-store">'


def _lines() -> list[dict[str, Any]]:
    first = task_line("t1")
    second = task_line("t2")
    second["candidates"][0]["files"] = dict(SHARED)  # the same content as t3's "a"
    third = task_line("t3")
    third["candidates"][0]["files"] = dict(SHARED)
    third["candidates"][1]["files"] = {"solution.py": "x = 1\n", "helpers/util.py": "y = 2\n"}
    return [first, second, third]


def _imported(db: Session, make_project: Any, import_file: Any, tmp_path: Any,
              lines: list[dict[str, Any]] | None = None, slug: str = "hl") -> Project:
    project = make_project(slug)
    report = import_file(project, write_jsonl(tmp_path / f"{slug}.jsonl", lines or _lines()))
    setup.after_import(db, project, report, progress=False)
    db.commit()
    return project


def _stored(db: Session) -> dict[tuple[str, str], bytes]:
    return {(h, lang): body for h, lang, body in db.execute(
        select(Highlight.content_hash, Highlight.language, Highlight.body))}


def test_import_stores_each_contents_lines_once(db, make_project, import_file,
                                                 tmp_path) -> None:  # type: ignore[no-untyped-def]
    _imported(db, make_project, import_file, tmp_path)
    candidates = db.scalars(select(Candidate)).all()
    stored = _stored(db)
    # one row per distinct content (the shared one once), every file in it, as pygments
    # highlights it now
    assert sorted(stored) == sorted({(c.content_hash, "python") for c in candidates})
    assert len(stored) == len({c.content_hash for c in candidates}) < len(candidates)
    for cand in candidates:
        lines = unpack(stored[(cand.content_hash, "python")], cand.files)
        assert lines == {path: highlight(path, "python", text)
                         for path, text in cand.files.items()}
    assert set(db.scalars(select(Highlight.format_key))) == {format_key()}
    # escaped by pygments: the docstring's tags are text
    shared = next(c for c in candidates if c.files == SHARED)
    doc = unpack(stored[(shared.content_hash, "python")], shared.files)["solution.py"][1]
    assert "&lt;b&gt;" in doc and "<b>" not in doc

    # the same content in another project's import adds nothing
    _imported(db, make_project, import_file, tmp_path, [task_line("u1")], slug="again")
    assert len(_stored(db)) == len(stored)


def test_contents_analysed_before_0014_get_their_lines_from_analyze(
        db, make_project, import_file, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    """An upgraded install: analyses stored, no highlights. `harness analyze` adds the
    lines and leaves the analyses as they were."""
    project = _imported(db, make_project, import_file, tmp_path)
    db.execute(delete(Highlight))
    db.commit()
    analyses = db.execute(select(Analysis.id, Analysis.created_at)).all()

    env = {**os.environ, "HARNESS_DATA_DIR": str(settings.data_dir),
           "DATABASE_URL": settings.database_url}
    done = subprocess.run([Path(sys.executable).parent / "harness", "analyze", project.slug], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    db.expire_all()
    assert db.execute(select(Analysis.id, Analysis.created_at)).all() == analyses
    assert len(_stored(db)) == db.scalar(select(func.count(func.distinct(Candidate.content_hash))))


def test_analyze_many_under_another_language_stores_its_own_lines(db, make_project, import_file,
                                                                  tmp_path) -> None:  # type: ignore[no-untyped-def]
    _imported(db, make_project, import_file, tmp_path)
    cand = db.scalars(select(Candidate).order_by(Candidate.id)).first()
    assert cand is not None
    analyze_many(db, [(cand.content_hash, cand.files, "text", {})])
    db.commit()
    stored = _stored(db)
    assert (cand.content_hash, "text") in stored and (cand.content_hash, "python") in stored
    assert unpack(stored[(cand.content_hash, "text")], cand.files) == {
        path: highlight(path, "text", text) for path, text in cand.files.items()}


# --- the pages read them ---------------------------------------------------------------


def _forget() -> None:
    """This process's caches of highlighted lines and code rows: the next view is a first
    view, as in a server process that has not shown the task yet."""
    from web.columns import code_rows
    from web.render import forget_lines

    forget_lines()
    code_rows.cache_clear()


def _mark_stored(db: Session, *, how: str = "marked") -> None:
    """Rewrite every stored body: each line wrapped in MARK (what only the store has), or
    a body that does not fit its files."""
    for row in db.scalars(select(Highlight)).all():
        body = json.loads(zlib.decompress(row.body))
        if how == "marked":
            body = {path: [f"{MARK}{line}</span>" for line in lines]
                    for path, lines in body.items()}
        elif how == "short":
            body = {path: lines[:-1] for path, lines in body.items()}
        elif how == "markup":  # not pygments' output: a row written by something else
            body = {path: [f'{line}<img src=x data-stored="1">' for line in lines]
                    for path, lines in body.items()}
        db.execute(update(Highlight).where(Highlight.id == row.id).values(
            body=b"not zlib" if how == "corrupt" else zlib.compress(json.dumps(body).encode())))
    db.commit()


def _review_page(client: Any, slug: str) -> tuple[str, str]:
    token = csrf_from(client.get(f"/p/{slug}/queue").get_data(as_text=True))
    resp = client.post(f"/p/{slug}/queue", data={"csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = str(resp.headers["Location"])
    resp = client.get(page)
    assert resp.status_code == 200
    return page, resp.get_data(as_text=True)


def test_first_view_of_a_task_shows_the_stored_lines(db, make_project, make_user, import_file,
                                                     tmp_path, login, count_queries) -> None:  # type: ignore[no-untyped-def]
    project = _imported(db, make_project, import_file, tmp_path)
    make_user("ann", projects=[project.slug])
    make_user("lead1", role="lead", projects=[project.slug])
    _mark_stored(db)
    _forget()
    client = login("ann")
    page, html = _review_page(client, project.slug)
    rows = re.findall(r'<td class="src"><code>(.*?)</code></td>', html, re.S)
    assert rows and all(row.startswith(MARK) for row in rows), rows[:3]

    # a view the process has kept reads no stored lines again
    with count_queries() as queries:
        assert client.get(page).status_code == 200
    assert not [q for q in queries if "highlights" in q], str(queries)

    # the diff of two candidates, on its first view
    _forget()
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    left, right = (c["id"] for c in data["candidates"][:2])
    diff = client.get(f"{data['urls']['diff']}?left={left}&right={right}").get_json()
    assert all(r["a_html"].startswith(MARK) for r in diff["rows"] if r["a_html"] is not None)

    # the lead's task page
    _forget()
    lead = login("lead1")
    task_html = lead.get(f"/p/{project.slug}/t/t1").get_data(as_text=True)
    assert task_html.count(MARK) >= 2


@pytest.mark.parametrize("how", ["short", "corrupt", "markup"])
def test_stored_lines_that_do_not_fit_are_not_shown(db, make_project, make_user, import_file,
                                                    tmp_path, login, how) -> None:  # type: ignore[no-untyped-def]
    """Lines that do not match the file (one missing, a body that does not decompress,
    markup pygments does not write) are left aside and the file is highlighted now, every
    line in its place."""
    project = _imported(db, make_project, import_file, tmp_path)
    make_user("ann", projects=[project.slug])
    _mark_stored(db, how=how)
    _forget()
    _, html = _review_page(login("ann"), project.slug)
    rows = re.findall(r'<tr data-line="(\d+)"[^>]*>.*?<td class="src"><code>(.*?)</code>', html,
                      re.S)
    assert rows and MARK not in html and 'data-stored="1"' not in html
    assert any("return" in code for _, code in rows)
    # every file's rows numbered 1..n without a gap
    numbers = [int(n) for n, _ in rows]
    assert all(b == a + 1 or b == 1 for a, b in zip(numbers, numbers[1:], strict=False))

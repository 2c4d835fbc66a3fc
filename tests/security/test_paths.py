"""Path traversal through task files and uploads.

Candidate and test file names of a task file that could leave the sandbox's work dir
(`..`, absolute paths, `~`, backslashes, NUL, empty or dot parts, symlink-looking
names that climb, control and bidi characters, over-long names) are refused at import
with the line and the field that holds the name, and the file imports nothing. The browser uploads (a new project's task file
and rubric, a further import) are saved under the data dir whatever name the browser
sends, and refuse such task files the same way. Nothing is written outside.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from helpers import RUBRIC, csrf_from, task_line, write_jsonl
from sqlalchemy import func, select

from harness import importer
from harness.errors import InvalidInput
from harness.models import Candidate, Project, Task

BAD_NAMES = [
    "../escape.py",
    "a/../../escape.py",
    "pkg/../../../../etc/cron.d/x",
    "/etc/passwd",
    "/tmp/escape.py",  # noqa: S108 - a hostile name, nothing is written there
    "~/escape.py",
    "~root/.bashrc",
    "..",
    ".",
    "./solution.py",
    "a//b.py",
    "a/./b.py",
    "dir/",
    "..\\..\\escape.py",
    "C:\\Windows\\escape.py",
    "sub\\..\\..\\escape.py",
    "solution.py\x00.txt",
    "\x00",
    "link -> ../../etc/passwd",  # what `ls -l` shows for a symlink
    " solution.py",
    "",
    "tests/test_ok.py\nPASSED everything",  # a newline would forge report lines
    "solution\x1b[2K.py",
    "evil\u202eyp.py",  # shows as evilpy.py reversed on the review page
    "solu\u200btion.py",  # zero-width space: two names that look the same
    "\ufeffsolution.py",  # a byte order mark
    "a\u2028b.py",  # a line separator
    "priv\ue000.py",  # private use
    "tag\U000e0041.py",  # a tag character, invisible
    "x" * 300 + ".py",
]


def lines_with(name: str, where: str) -> list[dict[str, object]]:
    bad = task_line("t2")
    if where == "candidate":
        bad["candidates"][1]["files"] = {name: "x = 1\n"}  # type: ignore[index]
    else:
        bad["tests"] = {name: "def test_x():\n    pass\n"}
    return [task_line("t1"), bad]


@pytest.mark.parametrize("where", ["candidate", "tests"])
def test_hostile_file_names_are_refused_with_line_and_field(
        db, make_project, tmp_path, where) -> None:
    project = make_project("p")
    for name in BAD_NAMES:
        path = write_jsonl(tmp_path / "tasks.jsonl", lines_with(name, where))
        with pytest.raises(InvalidInput) as caught:
            importer.import_tasks(db, project, path)
        db.rollback()
        field = "candidates[b].files" if where == "candidate" else "tests"
        assert any(line.startswith(f"{path}:2: {field}") for line in caught.value.errors), \
            (name, caught.value.errors)
        assert len(caught.value.errors) == 1, (name, caught.value.errors)  # line 1 is fine
        assert db.scalar(select(func.count(Task.id))) == 0, name  # all or nothing
        assert db.scalar(select(func.count(Candidate.id))) == 0, name


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def login_lead(client: FlaskClient, make_user) -> str:  # type: ignore[no-untyped-def]
    make_user("lead", role="lead", projects=["p"])
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"name": "lead", "password": "correct horse battery",
                                       "csrf_token": token})
    assert resp.status_code == 302
    return csrf_from(client.get("/projects/new").get_data(as_text=True))


UPLOAD_NAMES = ["../../../../escape.jsonl", "/tmp/escape.jsonl", "..\\..\\escape.jsonl",  # noqa: S108
                "a/../../escape.jsonl", "..", "escape.jsonl\x00.txt"]


@pytest.mark.sqlite_only
def test_new_project_upload_refuses_traversal_and_writes_nothing_outside(
        app, client, make_project, make_user, db, tmp_path, settings) -> None:
    make_project("p")
    token = login_lead(client, make_user)
    before = files_under(tmp_path)
    task_bytes = "".join(json.dumps(t) + "\n" for t in lines_with("../escape.py", "candidate"))
    rubric_bytes = RUBRIC.read_bytes()
    for i, upload_name in enumerate(UPLOAD_NAMES):
        resp = client.post("/projects/new", content_type="multipart/form-data", data={
            "csrf_token": token, "name": "From the browser", "slug": f"b{i}", "overlap": "1",
            "rubric_file": (io.BytesIO(rubric_bytes), upload_name.replace("jsonl", "yaml")),
            "tasks": (io.BytesIO(task_bytes.encode()), upload_name)})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 422, (upload_name, page[-500:])
        assert "candidates[b].files" in page and "escape.py" in page, upload_name
        assert db.scalar(select(Project.id).where(Project.slug == f"b{i}")) is None
    assert db.scalar(select(func.count(Task.id))) == 0
    # nothing new anywhere under the test's dir (the data dir included: temp dirs are gone),
    # and nothing named escape.* anywhere near it
    assert files_under(tmp_path) - before <= {settings.data_dir / "harness.db-wal",
                                              settings.data_dir / "harness.db-shm"}
    assert not list(tmp_path.parent.rglob("escape.*"))


@pytest.mark.sqlite_only
def test_background_import_upload_keeps_its_file_inside_and_imports_nothing(
        app, client, make_project, make_user, db, tmp_path, settings) -> None:
    make_project("p")
    token = login_lead(client, make_user)
    for upload_name in UPLOAD_NAMES:
        bad = "".join(json.dumps(t) + "\n" for t in lines_with("/etc/passwd", "tests"))
        resp = client.post("/p/p/import", content_type="multipart/form-data", data={
            "csrf_token": token, "tasks": (io.BytesIO(bad.encode()), upload_name)})
        assert resp.status_code == 302, upload_name
        job = resp.headers["Location"]
        deadline = time.monotonic() + 30
        while "failed" not in (page := client.get(job).get_data(as_text=True)):
            assert "Imported" not in page, upload_name
            assert time.monotonic() < deadline, page[-800:]
            time.sleep(0.1)
        assert ":2: tests" in page and "/etc/passwd" in page and "must be relative" in page, page[-1500:]
    assert db.scalar(select(func.count(Task.id))) == 0
    # the uploads were saved inside the data dir's imports folder and removed after
    assert not list((settings.data_dir / "imports").iterdir())
    assert not list(tmp_path.parent.rglob("escape.*"))
    good = write_jsonl(tmp_path / "good.jsonl", [task_line("t1")])
    resp = client.post("/p/p/import", content_type="multipart/form-data", data={
        "csrf_token": token, "tasks": (io.BytesIO(good.read_bytes()), "../../good.jsonl")})
    job = resp.headers["Location"]
    deadline = time.monotonic() + 30
    while "Imported" not in client.get(job).get_data(as_text=True):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert db.scalar(select(func.count(Task.id))) == 1

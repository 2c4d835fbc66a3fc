"""A background import from the browser survives a restart of `harness serve`: kill -9
while the import runs, start the server again, and the job's page says it was
interrupted and that nothing was imported (which is true: the import is one
transaction). A finished job's page still tells its result after another kill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import PASSWORD, task_line, write_jsonl
from helpers.runs import free_port, serve
from sqlalchemy import func, select

from harness.models import ImportJob, Task

pytestmark = pytest.mark.slow

HARNESS = str(Path(sys.executable).parent / "harness")
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def logged_in(base: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10).text
    resp = http.post(f"{base}/login", timeout=10, data={
        "name": "boss", "password": PASSWORD, "csrf_token": CSRF.search(page).group(1)})
    assert resp.status_code == 200 and "/login" not in resp.url
    return http


def upload(http: requests.Session, base: str, path: Path) -> str:
    form = http.get(f"{base}/p/imp/import", timeout=10).text
    with path.open("rb") as fh:
        resp = http.post(f"{base}/p/imp/import", timeout=60, allow_redirects=False,
                         data={"csrf_token": CSRF.search(form).group(1)},
                         files={"tasks": (path.name, fh, "application/jsonl")})
    assert resp.status_code == 302, resp.text[:500]
    return str(resp.headers["Location"])


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_an_import_killed_mid_way_is_reported_interrupted_after_a_restart(
        db, settings, make_project, make_user, tmp_path) -> None:
    project = make_project("imp", tests=False)
    make_user("boss", role="lead", projects=["imp"])
    env = {**os.environ, "HARNESS_DATA_DIR": str(settings.data_dir),
           "DATABASE_URL": settings.database_url, "HARNESS_INPROCESS_WORKER": "0"}
    big = write_jsonl(tmp_path / "big.jsonl", [task_line(f"big{i}") for i in range(8000)])
    log = tmp_path / "serve.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    server = serve(env, port, log)
    try:
        job_url = upload(logged_in(base), base, big)
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline:
            db.expire_all()
            state = db.scalar(select(ImportJob.state))
            db.rollback()
            if state != "queued":
                break
            time.sleep(0.02)
        assert state == "running", f"the import was {state} before it could be killed"
        time.sleep(0.3)
    finally:
        kill(server)

    server = serve(env, port, log)
    try:
        http = logged_in(base)
        page = http.get(f"{base}{job_url}", timeout=10).text
        assert 'data-state="interrupted"' in page, page[-1500:]
        assert "Interrupted — nothing was imported" in page
        assert 'http-equiv="refresh"' not in page  # it no longer pretends to run
        listed = http.get(f"{base}/p/imp/import", timeout=10).text
        assert "big.jsonl" in listed and "(nothing imported)" in listed
        db.expire_all()
        assert db.scalar(select(func.count(Task.id)).where(Task.project_id == project.id)) == 0
        job = db.scalars(select(ImportJob)).one()
        assert (job.state, job.interrupted_in) == ("interrupted", "running")
        assert not (settings.data_dir / "imports" / job.token).exists()  # the upload is gone
        db.rollback()

        # a job that finished keeps its result across another kill
        small = write_jsonl(tmp_path / "small.jsonl", [task_line(f"s{i}") for i in range(3)])
        done_url = upload(http, base, small)
        deadline = time.monotonic() + 60
        while 'data-state="done"' not in http.get(f"{base}{done_url}", timeout=10).text:
            assert time.monotonic() < deadline, "the small import did not finish"
            time.sleep(0.1)
    finally:
        kill(server)
    server = serve(env, port, log)
    try:
        page = logged_in(base).get(f"{base}{done_url}", timeout=10).text
        assert "Imported 3 new and 0 updated task(s), 6 candidate(s)." in page
    finally:
        kill(server)

"""Crash safety: `kill -9` in the middle of an import, of submits and of a streamed export.

Afterwards the SQLite database passes `integrity_check` and `foreign_key_check`, an
import is all or nothing, every annotation that got a success response is there, and
the export after a restart is complete. (Killing a worker mid-run: tests/runs/test_worker_cli.py and
tests/runs/test_distributed.py.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from helpers import RUBRIC, task_line, write_jsonl
from helpers.runs import free_port, serve

pytestmark = pytest.mark.slow

HARNESS = str(Path(sys.executable).parent / "harness")
PASSWORD = "correct horse battery"


def harness(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([HARNESS, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def consistent(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    return conn


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data"),
            "HARNESS_INPROCESS_WORKER": "0"}


def project(env: dict[str, str], tmp_path: Path, n_tasks: int = 0, overlap: int = 1) -> None:
    spec = tmp_path / "p.yaml"
    fields: dict[str, object] = {"name": "P", "slug": "p", "rubric": str(RUBRIC),
                                 "overlap": overlap}
    if n_tasks:
        fields["tasks"] = str(write_jsonl(tmp_path / "first.jsonl",
                                          [task_line(f"t{i}") for i in range(n_tasks)]))
    spec.write_text(json.dumps(fields))
    harness(env, "project", "create", str(spec))


def test_kill_during_import_leaves_all_or_nothing(env, tmp_path) -> None:
    project(env, tmp_path)
    big = write_jsonl(tmp_path / "big.jsonl", [task_line(f"big{i}") for i in range(6000)])
    db = Path(env["HARNESS_DATA_DIR"]) / "harness.db"
    mid_way = []
    for delay in (0.3, 0.6, 1.2):
        proc = subprocess.Popen([HARNESS, "import", "p", str(big)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        conn = consistent(db)
        tasks = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
        candidates = conn.execute("SELECT count(*) FROM candidates").fetchone()[0]
        conn.close()
        # all or nothing; a process still alive may be past its commit (computing hints)
        assert (tasks, candidates) in ((0, 0), (6000, 12000)), (delay, tasks, candidates)
        mid_way.append(alive and tasks == 0)
        if tasks:
            break
    assert any(mid_way), "the import finished before it could be killed: use a larger file"
    if not tasks:  # the last kill came before the commit: nothing half-done stands in the way
        harness(env, "import", "p", str(big))
    conn = consistent(db)
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 6000
    assert conn.execute("SELECT count(*) FROM candidates").fetchone()[0] == 12000


CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def annotate_until_stopped(base: str, name: str, stop: threading.Event,
                           accepted: list[tuple[str, int, int]]) -> None:
    """Log in, then claim and submit tasks until stopped or the server is gone.
    Every submit answered 200 is recorded as (user, assignment, version)."""
    http = requests.Session()
    try:
        page = http.get(f"{base}/login", timeout=5).text
        http.post(f"{base}/login", timeout=5, data={
            "name": name, "password": PASSWORD, "csrf_token": CSRF.search(page).group(1)})
        while not stop.is_set():
            queue = http.get(f"{base}/queue", timeout=5).text
            claimed = http.post(f"{base}/queue", timeout=5,
                                data={"csrf_token": CSRF.search(queue).group(1)})
            match = re.search(r"/p/p/a/(\d+)$", claimed.url)
            if match is None:
                return  # nothing left
            page = claimed.text
            data = json.loads(re.search(r'id="page-data">(.*?)</script>', page, re.S).group(1))
            token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
            ids = [c["id"] for c in data["candidates"]]
            crit = data["rubric"]["criteria"]
            draft = {
                "scores": {str(c): {k["key"]: k["max"] for k in crit} for c in ids},
                "ranking": [[i] for i in ids],
                "rationale": f"{name} reviewed this under load and kept a note of it.",
                "confidence": 3, "findings": [],
            }
            resp = http.post(f"{base}/p/p/a/{match.group(1)}/submit", timeout=10,
                             json={"draft": draft, "acknowledge_warnings": True},
                             headers={"X-CSRFToken": token})
            if resp.status_code == 200 and resp.json().get("ok"):
                accepted.append((name, int(match.group(1)), resp.json()["version"]))
    except (requests.RequestException, AttributeError):
        return  # the server went away


def test_kill_during_submits_keeps_every_acknowledged_annotation(env, tmp_path) -> None:
    project(env, tmp_path, n_tasks=300)
    names = [f"ann{i}" for i in range(4)]
    for name in names:
        harness(env, "user", "add", name, "--role", "annotator", "--project", "p",
                "--password-stdin", stdin=PASSWORD + "\n")
    port = free_port()
    server = serve(env, port, tmp_path / "serve.log")
    stop = threading.Event()
    accepted: list[tuple[str, int, int]] = []
    threads = [threading.Thread(target=annotate_until_stopped,
                                args=(f"http://127.0.0.1:{port}", n, stop, accepted))
               for n in names]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(accepted) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)  # mid-flight: clients are submitting right now
    server.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    acknowledged = list(accepted)
    assert len(acknowledged) >= 20, (tmp_path / "serve.log").read_text()[-2000:]

    conn = consistent(Path(env["HARNESS_DATA_DIR"]) / "harness.db")
    stored = set(conn.execute(
        "SELECT u.name, a.id, n.version FROM annotations n JOIN assignments a "
        "ON a.id = n.assignment_id JOIN users u ON u.id = a.user_id").fetchall())
    assert set(acknowledged) <= stored
    # each acknowledged submit is one version of a submitted assignment; none was lost
    states = dict(conn.execute("SELECT id, state FROM assignments").fetchall())
    assert all(states[a] == "submitted" for _, a, _ in acknowledged)
    conn.close()
    # and the server starts again on the same data
    again = serve(env, port, tmp_path / "serve.log")
    again.send_signal(signal.SIGKILL)
    again.wait(10)


COPIES = 24
"""The simulated versions are copied this many times (as later versions of the same
assignments), so the export runs long enough to be cut off: simulating every version
through the services would take minutes on a loaded machine."""


def multiply_versions(db: Path, per_assignment: int) -> int:
    conn = sqlite3.connect(db)
    cols = ("assignment_id, project_id, rubric_id, scores, ranking, rationale, confidence, "
            "display_order, active_seconds, hints_visible, submitted_at, created_at")
    with conn:
        for k in range(1, COPIES + 1):
            conn.execute(f"INSERT INTO annotations (version, {cols}) "  # noqa: S608 - constants
                         f"SELECT version + {k * per_assignment}, {cols} FROM annotations "
                         f"WHERE version <= {per_assignment}")
    total = int(conn.execute("SELECT count(*) FROM annotations").fetchone()[0])
    conn.close()
    return total


def logged_in(base: str, name: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10).text
    resp = http.post(f"{base}/login", timeout=10, allow_redirects=False, data={
        "name": name, "password": PASSWORD, "csrf_token": CSRF.search(page).group(1)})
    assert resp.status_code == 302, resp.text[-500:]
    return http


def test_kill_during_a_streamed_export_then_the_next_export_is_complete(env, tmp_path) -> None:
    project(env, tmp_path, n_tasks=40, overlap=2)
    harness(env, "simulate", "p", "--annotators", "2", "--versions", "3")
    db = Path(env["HARNESS_DATA_DIR"]) / "harness.db"
    total = multiply_versions(db, 3)
    assert total == 40 * 2 * 3 * (COPIES + 1)
    harness(env, "user", "add", "lead", "--role", "lead", "--project", "p", "--password-stdin",
            stdin=PASSWORD + "\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(env, port, tmp_path / "serve.log")
    http = logged_in(base, "lead")
    resp = http.get(f"{base}/p/p/export/jsonl", stream=True, timeout=30)
    assert resp.status_code == 200
    received = resp.raw.read(64 * 1024)  # the stream has started ...
    server.send_signal(signal.SIGKILL)  # ... and the server dies in the middle of it
    server.wait(10)
    try:
        while chunk := resp.raw.read(64 * 1024):
            received += chunk
    except Exception:  # noqa: S110 - the connection breaks; what arrived is what counts
        pass
    cut = received.count(b"\n")
    assert 0 < cut < total, f"the export was not cut off ({cut} of {total} lines)"
    print(f"export cut off after {cut} of {total} records")

    conn = consistent(db)
    assert conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == total
    conn.close()
    again = serve(env, port, tmp_path / "serve.log")
    try:
        body = logged_in(base, "lead").get(f"{base}/p/p/export/jsonl", timeout=120).content
    finally:
        again.send_signal(signal.SIGKILL)
        again.wait(10)
    records = [json.loads(line) for line in body.splitlines()]
    assert len(records) == total and body.endswith(b"\n")
    assert len({(r["assignment_id"], r["version"]) for r in records}) == total
    consistent(db).close()

"""`harness serve --workers N` (web/multiprocess.py, gunicorn): N processes answer on one
port, exactly one of them runs the background jobs (another takes over when it dies), a
process that dies is replaced, one that keeps dying stops the server, SIGTERM lets the
requests in flight finish, no server process outlives the server (SIGTERM, or the
parent killed outright), and a kept-alive connection is closed after its share of
requests so that connections spread over the processes again.

The processes' database behaviour under load is tests/test_load.py's (workers=2)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import RUBRIC
from helpers.webhooks import Receiver

from harness import projects, webhooks
from harness.db import make_engine, make_sessionmaker
from harness.settings import Settings
from web.multiprocess import KEEPALIVE_REQUESTS

HARNESS = str(Path(sys.executable).parent / "harness")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def gone(pid: int) -> bool:
    """Exited (reaped, or a zombie nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds:g} s"
        time.sleep(0.05)


def unread(port: int, client_port: int) -> int | None:
    """Bytes the server has not read yet on its side of our connection (/proc/net/tcp):
    a connection still in the listen queue keeps what we sent."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":"), fields[2].split(":")
        if int(local[1], 16) == port and int(remote[1], 16) == client_port:
            return int(fields[4].split(":")[1], 16)
    return None


def answers(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
        return int(resp.status)


JOBS = re.compile(r"harness serve: server process (\d+) runs the background jobs")


class Server:
    def __init__(self, tmp_path: Path, workers: int) -> None:
        self.port = free_port()
        self.env = {"HARNESS_DATA_DIR": str(tmp_path / "data"),
                    "HARNESS_WEBHOOK_ALLOW": "127.0.0.1", "HARNESS_WEBHOOK_POLL_MS": "200"}
        env = {**os.environ, **self.env, "HARNESS_INPROCESS_WORKER": "0"}
        env.pop("DATABASE_URL", None)
        self.log = tmp_path / "serve.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [HARNESS, "serve", "--port", str(self.port), "--workers", str(workers)],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        self.workers = workers

        def up() -> bool:
            assert self.proc.poll() is None, self.log.read_text()
            if len(children(self.proc.pid)) < workers:
                return False
            try:
                return answers(self.port) == 200
            except OSError:
                return False

        wait_for(up, 60, "the server answers with all its processes")

    @property
    def children(self) -> list[int]:
        return children(self.proc.pid)

    def jobs_logged(self) -> list[int]:
        """The processes that said they run the background jobs, in order."""
        return [int(pid) for pid in JOBS.findall(self.log.read_text())]

    def jobs_locks(self) -> tuple[list[int], list[int]]:
        """(holders, waiters) of the background jobs' flock among the server's processes,
        as the kernel sees them (/proc/locks)."""
        kids = set(self.children)
        held, waiting = [], []
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            blocked = fields[1] == "->"
            kind, pid = fields[2 if blocked else 1], int(fields[5 if blocked else 4])
            if kind == "FLOCK" and pid in kids:
                (waiting if blocked else held).append(pid)
        return held, waiting

    def one_set_of_jobs(self) -> int:
        """Waits until exactly one live process holds the jobs (and said so) while every
        other waits for them; returns it."""
        def settled() -> bool:
            held, waiting = self.jobs_locks()
            logged = self.jobs_logged()
            return (len(held) == 1 and len(waiting) == self.workers - 1
                    and bool(logged) and logged[-1] == held[0])
        wait_for(settled, 30, "one process runs the background jobs, the others wait")
        return self.jobs_logged()[-1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    def start(workers: int = 2) -> Server:
        server = Server(tmp_path, workers)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        kids = server.children
        server.stop()
        for pid in kids:  # never leave one behind, even when a test failed
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_processes_share_the_port_and_stop_with_the_server(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(2)
    kids = server.children
    assert len(kids) == 2 and server.proc.pid not in kids
    assert all(answers(server.port) == 200 for _ in range(20))
    assert server.one_set_of_jobs() in kids
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=40) == 0, server.log.read_text()
    assert all(gone(pid) for pid in kids), "a server process outlived the server"
    log = server.log.read_text()
    assert "Handling signal: term" in log and len(server.jobs_logged()) == 1, log
    assert "Traceback" not in log and "Exception" not in log, log  # the jobs stopped cleanly


def test_a_kept_alive_connection_ends_after_its_share_of_requests(serve) -> None:  # type: ignore[no-untyped-def]
    """A connection stays with the process that accepted it: a burst of clients connecting
    at once left one process at a full core and the other idle (bench/README.md). The
    KEEPALIVE_REQUESTS-th answer says "Connection: close" and the server closes it; the
    client's next connection goes to whichever process accepts it."""
    server = serve(2)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for n in range(1, KEEPALIVE_REQUESTS + 1):
            sock.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            assert resp.status == 200 and b"</html>" in resp.read()
            said = (resp.getheader("Connection") or "").lower()
            assert said == ("close" if n == KEEPALIVE_REQUESTS else "keep-alive"), (n, said)
        assert sock.recv(1) == b"", "the server closed the connection"
    assert answers(server.port) == 200  # a new connection is served as before


def test_a_request_in_flight_at_sigterm_is_answered_before_the_server_exits(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(2)
    kids = server.children
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as slow:
        slow.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the rest comes later
        client_port = slow.getsockname()[1]
        wait_for(lambda: unread(server.port, client_port) == 0, 30,
                 "a server process accepts the request and reads what came of it")
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(2)  # the server drains: it waits for this request
        assert server.proc.poll() is None, server.log.read_text()
        with pytest.raises(OSError):  # and answers no new connection meanwhile
            answers(server.port)
        slow.sendall(b"Connection: close\r\n\r\n")
        response = b""
        while chunk := slow.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]
    assert b"</html>" in response
    assert server.proc.wait(timeout=30) == 0, server.log.read_text()
    assert all(gone(pid) for pid in kids), "a server process outlived the server"


def test_a_server_process_that_dies_is_replaced_and_jobs_move(serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = serve(2)
    receiver = Receiver()
    try:
        settings = Settings.from_env(server.env)
        factory = make_sessionmaker(make_engine(settings.database_url), settings)
        spec = tmp_path / "p.yaml"
        spec.write_text(json.dumps({"name": "P", "slug": "p", "rubric": str(RUBRIC)}))

        with factory() as s:
            project, _ = projects.create_project(s, spec)
            webhooks.add_webhook(s, project, receiver.url, ["annotation.submitted"])
            s.commit()
            project_id = project.id

        def emit(n: int) -> None:  # a due delivery, for whichever process runs the jobs
            with factory() as s:
                webhooks.emit(s, project_id, "annotation.submitted", {"n": n})
                s.commit()

        holder = server.one_set_of_jobs()
        emit(0)
        assert receiver.wait_for(1), server.log.read_text()
        other = next(pid for pid in server.children if pid != holder)
        os.kill(holder, signal.SIGKILL)  # the process running the background jobs
        wait_for(lambda: len(server.children) == 2 and holder not in server.children, 30,
                 "a new process replaces the killed one")
        assert other in server.children
        assert answers(server.port) == 200
        assert server.one_set_of_jobs() != holder  # taken over, once
        emit(1)
        assert receiver.wait_for(2), server.log.read_text()
        time.sleep(1)
        assert [json.loads(body)["n"] for _, body in receiver.received] == [0, 1]
        log = server.log.read_text()
        assert f"Worker (pid:{holder}) was sent SIGKILL!" in log, log
        assert len(server.jobs_logged()) == 2, log
    finally:
        receiver.close()


def test_no_server_process_outlives_a_killed_server(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(2)
    kids = server.children
    server.proc.kill()  # SIGKILL: the parent runs no handler at all
    server.proc.wait(timeout=10)
    wait_for(lambda: all(gone(pid) for pid in kids), 15, "the server processes exit")


@pytest.mark.slow
def test_a_process_that_keeps_dying_stops_the_server(serve) -> None:  # type: ignore[no-untyped-def]
    from web.multiprocess import RESTARTS, WINDOW

    server = serve(2)
    killed: set[int] = set()
    deadline = time.monotonic() + 120
    while server.proc.poll() is None:
        assert time.monotonic() < deadline, server.log.read_text()
        for pid in server.children:
            if pid not in killed:  # both slots: whichever keeps dying first stops it
                killed.add(pid)
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    assert server.proc.returncode == 1
    log = server.log.read_text()
    assert f"died {RESTARTS + 1} times within {WINDOW:.0f} s: stopping the server" in log, log
    assert all(gone(pid) for pid in killed)

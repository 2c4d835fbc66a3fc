"""`harness serve --workers N` (web/prefork.py): N processes answer on one port, a
process that dies is replaced, one that keeps dying stops the server, and no server
process outlives the server (SIGTERM, or the parent killed outright).

The processes' database behaviour under load is tests/test_load.py's (workers=2)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def answers(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
        return int(resp.status)


class Server:
    def __init__(self, tmp_path: Path, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data"),
               "HARNESS_INPROCESS_WORKER": "0"}
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
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=20) == 0, server.log.read_text()
    assert all(gone(pid) for pid in kids), "a server process outlived the server"
    assert "SIGTERM: stopping 2 server processes" in server.log.read_text()


def test_a_server_process_that_dies_is_replaced(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(2)
    first, second = server.children
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: len(server.children) == 2 and first not in server.children, 30,
             "a new process replaces the killed one")
    assert second in server.children
    assert answers(server.port) == 200
    assert "was killed by SIGKILL; starting another" in server.log.read_text()


def test_no_server_process_outlives_a_killed_server(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(2)
    kids = server.children
    server.proc.kill()  # SIGKILL: the parent runs no handler at all
    server.proc.wait(timeout=10)
    wait_for(lambda: all(gone(pid) for pid in kids), 15, "the server processes exit")


@pytest.mark.slow
def test_a_process_that_keeps_dying_stops_the_server(serve) -> None:  # type: ignore[no-untyped-def]
    from web.prefork import RESTARTS

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
    assert f"{RESTARTS + 1} times within 60 s: stopping the server" in log, log
    assert all(gone(pid) for pid in killed)

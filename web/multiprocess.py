"""`harness serve --workers N` (N > 1): gunicorn's arbiter with N gthread workers on one port.

One process is held to one core by the GIL; a write request is mostly Python, so a
server on several cores needs several processes. gunicorn's arbiter binds the socket
and forks the workers; each worker builds its own app (its own engine and connection
pool; the parent disposed of its engine before forking) and serves the shared socket
with `threads` threads. What gunicorn already does for us:

- SIGTERM: the workers stop accepting, finish the requests in flight (at most
  GRACEFUL_SECONDS, then SIGKILL) and the server exits 0. SIGINT (Ctrl-C) stops at once.
- A worker that dies is replaced; one whose parent has gone (killed outright) notices
  within a second and exits, so no server process outlives the server.

What we add:

- Background jobs (the in-process run worker, the webhook delivery loop) run in exactly
  one worker: the arbiter opens an unnamed file before forking; every worker reopens it
  (a new open file description, so flock() locks are per worker) and waits in a daemon
  thread for an exclusive flock on it. The holder starts the jobs; the kernel releases
  the lock when the holder dies, however it dies, and another worker takes over. No
  slot numbering to keep in step with the arbiter's (restarts, TTIN/TTOU, reloads).
- A worker replaced more than RESTARTS times within WINDOW seconds (a crash-looping
  app) stops the whole server with exit status 1 and says why.
- A kept-alive connection is closed after KEEPALIVE_REQUESTS requests ("Connection:
  close" on the last answer, as nginx's keepalive_requests), and the client's next
  connection goes to whichever worker accepts it first, usually the less busy one.
  A connection stays with the worker that accepted it, and a burst of clients
  connecting at once (a team starting its shift, bench/load.py's 50 annotators) was
  shared unevenly: one worker held by its GIL at one core while the other idled.
- On a graceful stop the jobs' holder stops claiming runs and lets the delivery loop
  finish its round, so a delivery sent is also recorded as sent.

The database needs nothing more: SQLite in WAL mode already serialises writers across
connections with its file lock, and PostgreSQL's row locks do not care which process
holds them.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from gunicorn.errors import HaltServer

if TYPE_CHECKING:
    from flask import Flask
    from gunicorn.arbiter import Arbiter
    from gunicorn.http.message import Request
    from gunicorn.workers.base import Worker

RESTARTS = 5
WINDOW = 60.0
GRACEFUL_SECONDS = 30
"""How long a SIGTERM waits for requests in flight before the workers are killed."""
JOBS_STOP_SECONDS = 10.0
KEEPALIVE_SECONDS = 120
"""How long an idle kept-alive connection stays open: waitress's channel_timeout. gunicorn's
2 s closes a connection under a client that pauses and then writes on it (a broken pipe
for a POST it will not resend: bench/load.py's late saves); idle connections cost a
gthread worker a poller entry, not a thread."""
KEEPALIVE_REQUESTS = 20
"""Requests a kept-alive connection serves before it is closed, so connections spread over
the workers again (the module docstring says why). A browser opens the next one without a
sign; the cost is a TCP handshake on every 20th request."""


def say(message: str) -> None:
    print(f"harness serve: {message}", file=sys.stderr, flush=True)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Server(BaseApplication):
    """The app served by `workers` gunicorn gthread workers on host:port."""

    def __init__(self, host: str, port: int, threads: int, workers: int) -> None:
        self.options: dict[str, Any] = {
            "bind": [bind_address(host, port)],
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "graceful_timeout": GRACEFUL_SECONDS,
            "keepalive": KEEPALIVE_SECONDS,
            "proc_name": "review-harness",
            # As waitress: no proxy header is trusted (gunicorn trusts loopback's by default).
            "forwarded_allow_ips": "",
            # No control socket in the user's runtime dir: the server listens on its port only.
            "control_socket_disable": True,
            "pre_fork": _count_restarts,
            "pre_request": _close_every_nth,
            "post_worker_init": _wait_for_jobs,
            "worker_exit": _stop_jobs,
        }
        self.jobs_file: IO[bytes] = tempfile.TemporaryFile(prefix="harness-serve-jobs-")
        self.restarts: list[float] = []
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """In each worker: its own app."""
        from harness.cli.common import settings
        from web import create_app

        return create_app(settings=settings())


def _close_every_nth(worker: Worker, req: Request) -> None:
    """pre_request: the KEEPALIVE_REQUESTS-th request of a connection is its last."""
    if req.req_number >= KEEPALIVE_REQUESTS:
        req.must_close = True


def _count_restarts(arbiter: Arbiter, worker: Worker) -> None:
    """pre_fork, in the arbiter: a worker beyond the first `workers` replaces one that died."""
    if worker.age <= arbiter.cfg.workers:
        return
    server: Server = arbiter.app
    now = time.monotonic()
    server.restarts = [t for t in server.restarts if now - t < WINDOW] + [now]
    if len(server.restarts) > RESTARTS:
        raise HaltServer(f"harness serve: server processes died {len(server.restarts)} times "
                         f"within {WINDOW:.0f} s: stopping the server", 1)


def _wait_for_jobs(worker: Worker) -> None:
    """post_worker_init, in each worker: the background jobs start here once this worker
    holds the lock (at once in the first worker, later in another if the holder dies)."""
    server: Server = worker.app
    fd = os.open(f"/proc/self/fd/{server.jobs_file.fileno()}", os.O_RDWR | os.O_CLOEXEC)

    def wait() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this process ends
        if not worker.alive:  # stopping: the server is going away
            return
        from web.cli import start_background

        say(f"server process {os.getpid()} runs the background jobs "
            "(test runs, webhook deliveries)")
        start_background(worker.wsgi)

    threading.Thread(target=wait, name="background-jobs-lock", daemon=True).start()


def _stop_jobs(arbiter: Arbiter, worker: Worker) -> None:
    """worker_exit, in the worker leaving after its requests: runs claim nothing more and
    the delivery loop ends its round (sent and recorded), if this worker ran them."""
    from web.cli import stop_background

    app = getattr(worker, "wsgi", None)
    if app is not None:
        stop_background(app, JOBS_STOP_SECONDS)

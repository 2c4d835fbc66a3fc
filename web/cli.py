"""serve and demo: the commands that need the web app (registered as entry points)."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

import click

from harness.cli.common import engine, session, settings

if TYPE_CHECKING:
    from flask import Flask

BACKGROUND_DELAY_S = 1.0
"""How long after start-up the run worker and webhook deliveries begin (start_background)."""


def run_server(host: str, port: int, threads: int, workers: int = 1) -> None:
    """One process (the default), or `workers` pre-forked ones sharing the socket
    (web/prefork.py); background jobs run in one process either way."""
    from harness import setup

    setup.ensure_schema(settings().database_url, engine)
    if workers <= 1:
        click.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
        _serve(host, port, threads, jobs=True)
        return
    from web import prefork

    engine().dispose()  # nothing open is inherited: each process makes its own engine
    sock = prefork.listen(host, port)
    click.echo(f"serving on http://{host}:{port}/ with {workers} processes (Ctrl-C stops)")
    status = prefork.supervise(
        workers, lambda slot: _serve(host, port, threads, jobs=slot == 0, sock=sock))
    sock.close()
    if status:
        raise SystemExit(status)


def start_background(app: Flask) -> threading.Timer:
    """The in-process run worker and the webhook delivery loop, started a second after
    the server: their modules (the run queue, the sandboxes, the webhooks) and their first
    queries are not on the path of the server's first answer (issue 13's cold start).
    Runs and deliveries queued meanwhile wait that second, as for a busy worker."""

    def start() -> None:
        from harness import webhooks
        from web.extensions import session_factory
        from web.runs import start_worker

        start_worker(app)
        webhooks.start_delivery_loop(session_factory(app), settings().webhook_poll_ms)

    timer = threading.Timer(BACKGROUND_DELAY_S, start)
    timer.daemon = True
    timer.start()
    return timer


def _serve(host: str, port: int, threads: int, *, jobs: bool,
           sock: socket.socket | None = None) -> None:
    """Build the app and serve it; `jobs`: this process runs the background jobs."""
    from waitress import serve as waitress_serve

    from web import create_app

    app = create_app(settings=settings())
    if jobs:
        start_background(app)
    where = {"sockets": [sock]} if sock is not None else {"host": host, "port": port}
    waitress_serve(app, threads=threads, ident="review-harness", **where)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Server processes sharing the port (default: HARNESS_WEB_WORKERS, 1).")
def serve(host: str, port: int, threads: int, workers: int | None) -> None:
    """Serve the web app with waitress (a production WSGI server)."""
    run_server(host, port, threads, workers or settings().web_workers)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the demo and exit.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Init, demo users and the demo project, then serve."""
    from harness import setup

    setup.migrate(engine())
    with session() as s:
        logins = setup.load_demo(s, progress=True)
    click.echo("")
    click.echo(f"Demo ready at http://{host}:{port}/ - log in as:")
    for name, role, password in logins:
        click.echo(f"  {name:<8} {role:<10} password: {password}")
    if not no_serve:
        run_server(host, port, 8)

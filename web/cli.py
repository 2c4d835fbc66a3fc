"""serve and demo: the commands that need the web app (registered as entry points)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import click

from harness.cli.common import engine, session, settings

if TYPE_CHECKING:
    from flask import Flask

BACKGROUND_DELAY_S = 1.0
"""How long after start-up the run worker and webhook deliveries begin (start_background)."""


def run_server(host: str, port: int, threads: int, workers: int = 1) -> None:
    """One process with waitress (the default), or `workers` gunicorn worker processes
    sharing the port (web/multiprocess.py); background jobs run in one process either way."""
    from harness import setup

    setup.ensure_schema(settings().database_url, engine, say=click.echo)
    if workers <= 1:
        click.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
        _serve(host, port, threads, jobs=True)
        return
    from web.multiprocess import Server

    engine().dispose()  # nothing open is inherited: each process makes its own engine
    click.echo(f"serving on http://{host}:{port}/ with {workers} processes (Ctrl-C stops)")
    try:
        Server(host, port, threads, workers).run()
    except SystemExit as stop:  # gunicorn's arbiter exits; its log says why
        if stop.code:  # a worker that failed to boot (3), an app that failed to load (4)
            raise SystemExit(1) from None


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
        app.extensions["harness.webhook_loop"] = webhooks.start_delivery_loop(
            session_factory(app), settings().webhook_poll_ms)

    timer = threading.Timer(BACKGROUND_DELAY_S, start)
    timer.daemon = True
    app.extensions["harness.background"] = timer
    timer.start()
    return timer


def stop_background(app: Flask, timeout: float) -> None:
    """Before a server process leaves: the run worker claims nothing more and puts its runs
    in flight back in the queue, and the delivery loop finishes its round (a delivery sent
    is recorded as sent, not sent again by the next process). At most ~2 x `timeout`."""
    timer: threading.Timer | None = app.extensions.get("harness.background")
    if timer is None:
        return
    timer.cancel()
    worker = app.extensions.get("harness.worker")
    if worker is not None:
        worker.abort()
    loop = app.extensions.get("harness.webhook_loop")
    if loop is not None:
        loop.stop(timeout)
    thread: threading.Thread | None = app.extensions.get("harness.worker_thread")
    if thread is not None:
        thread.join(timeout)


def _serve(host: str, port: int, threads: int, *, jobs: bool) -> None:
    """Build the app and serve it with waitress; `jobs`: this process runs the background
    jobs."""
    from waitress import serve as waitress_serve

    from web import create_app

    app = create_app(settings=settings())
    if jobs:
        start_background(app)
    # waitress keeps a body up to 1 GiB (in a temp file) before the app sees it: a body
    # beyond the largest the app takes (a task file) is refused from its Content-Length
    waitress_serve(app, host=host, port=port, threads=threads, ident="review-harness",
                   max_request_body_size=(settings().max_upload_mb + 1) * 1024 * 1024)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Server processes sharing the port (default: HARNESS_WEB_WORKERS, 1).")
def serve(host: str, port: int, threads: int, workers: int | None) -> None:
    """Serve the web app: waitress in one process, or gunicorn with --workers N > 1."""
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

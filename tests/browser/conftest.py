"""A real server and a real browser: waitress on 127.0.0.1 in a thread, Debian's Chromium.

Each test gets a fresh data dir seeded with the demo project, so tests do not
depend on each other's claims. The browser is launched once per session and
never downloaded: without /usr/bin/chromium the tests fail and say so.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSWORD, REPO
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from harness import accounts, importer, projects
from harness.db import make_engine, make_sessionmaker
from harness.models import Analysis, Candidate, Project, Task, TestRun, utcnow
from harness.settings import Settings
from harness.setup import migrate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DEMO = REPO / "examples" / "demo"
USERS = {"alice": ("annotator", ["demo"]), "bob": ("annotator", ["demo"]),
         "lead1": ("lead", ["demo"])}
SANDBOX_DIR = Path(os.environ.get("HARNESS_SANDBOX_DIR") or REPO / ".cache" / "sandbox").resolve()
"""The sandbox rootfs built by sandboxes/host-setup.sh; probes and seeded runs use bwrap in it."""
ANALYSIS_COLUMNS = ("content_hash", "versions_key", "context_hash", "hints", "metrics", "summary",
                    "versions")
_RUN_RESULTS: dict[tuple[str, str, str], dict[str, Any]] = {}
"""Real sandbox results by (candidate hash, tests hash, limits key), shared by the session."""


@dataclass
class Live:
    url: str
    sessions: sessionmaker[Session]
    tmp: Path
    dialogs: list[str] = field(default_factory=list)

    def db(self) -> Session:
        return self.sessions()

    def add_project(self, spec: dict[str, Any], tasks: list[dict[str, Any]] | None = None,
                    rubric_text: str | None = None) -> None:
        spec = dict(spec)
        if rubric_text is not None:
            path = self.tmp / f"{spec['slug']}-rubric.yaml"
            path.write_text(rubric_text, encoding="utf-8")
            spec["rubric"] = str(path)
        spec.setdefault("rubric", str(REPO / "rubrics" / "code-review.yaml"))
        file = self.tmp / f"{spec['slug']}.yaml"
        file.write_text(json.dumps(spec), encoding="utf-8")
        with self.sessions() as s:
            project, _ = projects.create_project(s, file)
            if tasks is not None:
                jsonl = self.tmp / f"{spec['slug']}.jsonl"
                jsonl.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
                importer.import_tasks(s, project, jsonl)
            s.commit()

    def add_user(self, name: str, role: str = "annotator", project_slugs: list[str] = ()) -> None:  # type: ignore[assignment]
        with self.sessions() as s:
            accounts.add_user(s, name, role, password=PASSWORD, projects=list(project_slugs))
            s.commit()

    def seed_runs(self, external_id: str, slug: str = "demo") -> dict[int, dict[str, Any]]:
        """Finished test runs for every candidate of a task, as the run worker stores them.

        The results are real: each distinct candidate is run once per test session in
        the bwrap sandbox (about a second each), then stored here under the dedup key
        `runs_for_task` looks up. Returns candidate id -> result dict.
        """
        from harness.runs import dedup_key, image_tag, limits_for, run_candidate
        from sandboxes.base import SandboxConfig, get_backend

        out: dict[int, dict[str, Any]] = {}
        with self.sessions() as s:
            task = s.scalars(select(Task).join(Project).where(
                Project.slug == slug, Task.external_id == external_id)).one()
            limits = limits_for(task.project.sandbox_limits)
            image = image_tag()
            for cand in task.candidates:
                cache = (cand.content_hash, task.tests_hash, limits.key())
                hidden = dict(task.hidden_tests or {})
                if cache not in _RUN_RESULTS:
                    result = run_candidate(dict(cand.files), {**task.tests, **hidden}, limits,
                                           get_backend("bwrap",
                                                       SandboxConfig(sandbox_dir=SANDBOX_DIR)),
                                           hidden=list(hidden))
                    assert result.status != "sandbox_error", result.error
                    _RUN_RESULTS[cache] = result.to_dict()
                result = _RUN_RESULTS[cache]
                mode = task.project.execution_mode
                key = dedup_key(cand.content_hash, task.tests_hash, image, limits, mode)
                if s.scalar(select(TestRun.id).where(TestRun.dedup_key == key)) is None:
                    s.add(TestRun(
                        dedup_key=key, generation=1, candidate_hash=cand.content_hash,
                        tests_hash=task.tests_hash, image=image, limits=limits.to_dict(),
                        files=dict(cand.files), tests=dict(task.tests), hidden_tests=hidden,
                        mode=mode, state="done",
                        status=result["status"], backend=result.get("backend") or None,
                        isolation=result.get("isolation") or None, result=result,
                        error=result.get("error"), attempts=1, finished_at=utcnow()))
                out[cand.id] = result
            s.commit()
        return out


@pytest.fixture(scope="session")
def demo_analyses(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The demo candidates' stored analyses (real bandit and radon hints), computed once
    per session with harness.analysis.store.analyze_many and copied into each test's DB."""
    from harness.analysis.store import analyze_many

    settings = Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path_factory.mktemp("analyses"))})
    engine = make_engine(settings.database_url)
    migrate(engine)
    try:
        with make_sessionmaker(engine)() as s:
            project, task_path = projects.create_project(s, DEMO / "project.yaml")
            assert task_path is not None
            importer.import_tasks(s, project, task_path)
            items = [(c.content_hash, dict(c.files), language, dict(tests or {}))
                     for c, language, tests in s.execute(
                         select(Candidate, Task.language, Task.tests).join(Task))]
            analyze_many(s, items)
            rows = [{k: getattr(a, k) for k in ANALYSIS_COLUMNS}
                    for a in s.scalars(select(Analysis))]
            s.commit()
    finally:
        engine.dispose()
    assert any(row["hints"] for row in rows)
    return rows


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. "
            "Install it with `apt-get install -y chromium` (never a downloaded browser)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live(tmp_path: Path, demo_analyses: list[dict[str, Any]]) -> Iterator[Live]:
    from waitress.server import create_server
    from waitress.wasyncore import close_all

    from web import create_app

    settings = Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "data"),
                                  "HARNESS_SANDBOX": "bwrap",
                                  "HARNESS_SANDBOX_DIR": str(SANDBOX_DIR)})
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        project, task_path = projects.create_project(s, DEMO / "project.yaml")
        assert task_path is not None
        importer.import_tasks(s, project, task_path)
        for name, (role, slugs) in USERS.items():
            accounts.add_user(s, name, role, password=PASSWORD, projects=slugs)
        s.execute(insert(Analysis), [dict(row, created_at=utcnow()) for row in demo_analyses])
        s.commit()
    app = create_app(settings=settings)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.effective_port}", sessions, tmp_path)
    finally:
        # let in-flight requests (a page's last autosave) finish before closing the sockets
        dispatcher = server.task_dispatcher
        deadline = time.monotonic() + 3
        while (dispatcher.active_count or dispatcher.queue) and time.monotonic() < deadline:
            time.sleep(0.05)
        dispatcher.shutdown()
        # closed from inside the server's own loop (through its trigger): closing its
        # sockets from this thread while the loop sits in select() on them made select()
        # fail with EBADF in the server thread, now and then, after a test had passed
        server.trigger.pull_trigger(lambda: close_all(server._map))
        thread.join(timeout=5)
        assert not thread.is_alive(), "the test server did not stop"
        engine.dispose()


@pytest.fixture
def open_page(browser, live: Live) -> Iterator[Callable[..., Any]]:
    """A logged-in page in its own browser context; every dialog is recorded (and dismissed)."""
    contexts = []

    def open_as(name: str, width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)

        def on_dialog(dialog: Any) -> None:
            live.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(f"{live.url}/login")
        page.fill('input[name="name"]', name)
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(lambda url: not url.startswith(f"{live.url}/login"))
        return page

    yield open_as
    for context in contexts:
        context.close()

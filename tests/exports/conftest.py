"""A project with simulated annotations, made through the review services."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers import DEMO_TASKS
from sqlalchemy.orm import Session

from harness import setup, simulate
from harness.models import Project


@pytest.fixture
def simulated(db: Session, make_project, import_file) -> Callable[..., Project]:
    """make(slug, annotators=3, seed=0, overlap=2): the demo tasks, reviewed by simulation."""

    def make(slug: str = "demo", *, annotators: int = 3, seed: int = 0, overlap: int = 2,
             versions: int = 1) -> Project:
        project = make_project(slug, overlap=overlap)
        import_file(project, DEMO_TASKS)
        simulate.simulate(db, project, annotators, seed=seed, versions=versions)
        db.commit()
        return project

    return make


@pytest.fixture
def reviewed(db, make_project, import_file):
    """The demo tasks with their test runs queued and hints analysed (as `harness import`
    does), reviewed by 3 simulated annotators, 3 versions each: hint verdicts, runs."""
    project = make_project("demo", overlap=2)
    setup.after_import(db, project, import_file(project, DEMO_TASKS), progress=False)
    simulate.simulate(db, project, 3, seed=0, versions=3)
    db.commit()
    return project


@pytest.fixture
def cli_env(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """In-process `harness` commands on this test's database (the CLI caches its settings
    and engine per process, so they are cleared before and after)."""
    from harness.cli import common

    def clear() -> None:
        common.settings.cache_clear()
        common.session_factory.cache_clear()
        common.current_schema.cache_clear()
        if common.engine.cache_info().currsize:
            common.engine().dispose()
        common.engine.cache_clear()

    clear()
    monkeypatch.setenv("HARNESS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    yield
    clear()

"""Shared fixtures: a fresh data dir and database per test, the app, a logged-in client,
and factories that return callables (make_project, make_user, import_file)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, RUBRIC, csrf_from
from sqlalchemy.orm import Session

from harness import accounts, importer, projects
from harness.db import make_engine, make_sessionmaker
from harness.models import Project, User
from harness.settings import Settings
from harness.setup import migrate


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
def session_factory(settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def db(session_factory) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def make_project(db: Session, tmp_path: Path) -> Callable[..., Project]:
    counter = iter(range(1, 10_000))

    def make(slug: str | None = None, **fields: Any) -> Project:
        slug = slug or f"p{next(counter)}"
        spec = {"name": f"Project {slug}", "slug": slug, "rubric": str(RUBRIC)} | fields
        path = tmp_path / f"{slug}.yaml"
        path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
        project, _ = projects.create_project(db, path)
        db.commit()
        return project

    return make


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def make(name: str, role: str = "annotator", projects: list[str] = ()) -> User:  # type: ignore[assignment]
        user = accounts.add_user(db, name, role, password=PASSWORD, projects=list(projects))
        db.commit()
        return user

    return make


@pytest.fixture
def import_file(db: Session) -> Callable[..., importer.ImportReport]:
    def run(project: Project, path: Path, **kwargs: Any) -> importer.ImportReport:
        report = importer.import_tasks(db, project, path, **kwargs)
        db.commit()
        return report

    return run


@pytest.fixture
def app(settings: Settings, session_factory) -> Flask:  # type: ignore[no-untyped-def]
    from web import create_app

    return create_app({"TESTING": True}, settings=settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str], FlaskClient]:
    def do(name: str, password: str = PASSWORD) -> FlaskClient:
        page = client.get("/login").get_data(as_text=True)
        resp = client.post(
            "/login", data={"name": name, "password": password, "csrf_token": csrf_from(page)}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return do

"""Shared fixtures: a fresh data dir and database per test, the app, a logged-in client,
and factories that return callables (make_project, make_user, import_file).

Every test that uses the database (`settings`, `session_factory`, `db`, `app`, ...) runs
twice: on SQLite and on PostgreSQL (the `postgres` marker). A test about SQLite itself
carries `@pytest.mark.sqlite_only`. The schema is migrated once per session on each
(helpers.databases) and copied per test.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, RUBRIC, csrf_from
from helpers.databases import (
    PostgresCluster,
    PostgresUnavailable,
    build_sqlite_template,
    copy_sqlite_template,
)
from helpers.queries import Queries, counting_queries
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from harness import accounts, importer, projects
from harness.db import make_engine, make_sessionmaker
from harness.models import Project, User
from harness.settings import Settings


@functools.cache
def password_hash(password: str) -> str:
    """scrypt costs ~0.3 s a hash; a site of six users would spend 2 s on setup alone."""
    return accounts.hash_password(password)


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each database test once per database (only SQLite for `sqlite_only` tests)."""
    if "database" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("database", DATABASES[:1] if sqlite_only else DATABASES)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL server for the session, started when a test first asks."""
    try:
        cluster = PostgresCluster()
        cluster.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database: str, tmp_path: Path) -> str:
    """A migrated database of this test's own, on the database the test is parametrised with."""
    if database == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        return copy_sqlite_template(template, tmp_path / "data" / "harness.db")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = cluster.create()
    request.addfinalizer(lambda: cluster.drop(name))
    return cluster.url(name)


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, database: str, tmp_path: Path) -> str:
    """A database with no tables, for the migration tests."""
    if database == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = cluster.create(template=None)
    request.addfinalizer(lambda: cluster.drop(name))
    return cluster.url(name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "data"),
                              "DATABASE_URL": database_url})


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine, settings: Settings) -> sessionmaker[Session]:
    """Sessions that carry the settings, as the app's and the CLI's do (the secret key
    keys the exports' annotator pseudonyms)."""
    return make_sessionmaker(engine, settings)


@pytest.fixture
def count_queries() -> Callable[[], AbstractContextManager[Queries]]:
    """`with count_queries() as queries: ...` then `assert len(queries) == N, str(queries)`:
    the statements sent on every engine (the test's and the app's) inside the block."""
    return counting_queries


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
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
        user = accounts.add_user(db, name, role, password=None, projects=list(projects))
        user.password_hash = password_hash(PASSWORD)  # a real hash, computed once
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
def app(settings: Settings, session_factory) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    from web import create_app
    from web.extensions import dispose_engine

    app = create_app({"TESTING": True}, settings=settings)
    yield app
    dispose_engine(app)  # its connections closed, not left to gc


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

"""What a fresh server process loads before its first answer: only what that answer needs.

The figures live in bench/cold_start.py; this pins the cause. Every module named here
once loaded at start (a tenth of a second or more each) and is needed only by some
pages, commands or exports, which import it when they first run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness.db import make_engine
from harness.errors import Conflict
from harness.setup import HEAD, alembic_config, ensure_schema, sqlite_file_revision

HARNESS = str(Path(sys.executable).parent / "harness")
HEAVY = ("bandit", "radon", "numpy", "scipy", "pyarrow", "krippendorff", "pygments",
         "markdown_it", "nh3", "jsonschema", "docker", "rq", "redis", "alembic", "tqdm",
         # pydantic (the task file's and the request bodies' schemas), SQLAlchemy (the
         # schema check reads SQLite with sqlite3, and the login form reads no database)
         # and the models, every view module but the login page's and the services behind
         # them: they load with the first request that needs them (web/views.py), or a
         # second after start-up (the run worker and the webhook loop, web/cli.py)
         "pydantic", "yaml", "sqlalchemy", "harness.models", "web.api", "web.lead",
         "web.review", "web.runs", "web.lab", "web.queue", "web.home", "web.qualification",
         "web.columns", "harness.taskfile", "harness.exports", "harness.assignments",
         "harness.rubric", "harness.runs", "harness.webhooks", "harness.annotate",
         "harness.adjudication", "harness.importer", "sandboxes")
FIRST_ANSWER = """
import json, sys
from harness.cli.common import engine, settings
from harness import setup
from web import create_app
setup.ensure_schema(settings().database_url, engine)  # as web/cli.py's run_server
app = create_app(settings=settings())
assert app.test_client().get("/login").status_code == 200
assert app.url_rule_class.__name__ == "DeferredBuildRule"  # builders compiled on use
print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".")
                                                     for h in HEAVY))))
"""


def test_the_server_answers_its_first_request_without_the_heavy_libraries(tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data"),
           "HARNESS_INPROCESS_WORKER": "0"}
    subprocess.run([HARNESS, "init"], env=env, check=True, capture_output=True, timeout=120)
    # the database is at the newest revision now, as on every start after the first
    proc = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{FIRST_ANSWER}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    shown = sorted({h for h in HEAVY for m in loaded if m == h or m.startswith(h + ".")})
    assert loaded == [], f"loaded before the first answer: {shown}"


def _init(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data"),
           "HARNESS_INPROCESS_WORKER": "0"}
    subprocess.run([HARNESS, "init"], env=env, check=True, capture_output=True, timeout=120)
    return env


def test_a_database_at_an_unknown_revision_still_refuses_to_serve(tmp_path: Path) -> None:
    """The start-up check that skips SQLAlchemy on SQLite only recognises HEAD; a database
    from a newer release goes through Alembic and is refused, as before."""
    env = _init(tmp_path)
    with sqlite3.connect(tmp_path / "data" / "harness.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    proc = subprocess.run([HARNESS, "serve", "--port", "1"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    # one clear line, not Alembic's traceback
    assert "the database is at migration '0099', which this review-harness does not know" \
        in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_start_up_check_upgrades_and_refuses_as_migrate_does(empty_database_url: str) -> None:
    """On both databases: an older revision is upgraded, an unknown one refused; only a
    SQLite file already at HEAD is recognised without an engine."""
    from alembic import command
    from sqlalchemy import text

    engine = make_engine(empty_database_url)
    made: list[str] = []

    def factory():  # type: ignore[no-untyped-def]
        made.append("engine")
        return engine

    try:
        command.upgrade(alembic_config(engine), "0010")
        ensure_schema(empty_database_url, factory)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        assert made == ["engine"]
        ensure_schema(empty_database_url, factory)  # at HEAD: SQLite needs no engine
        sqlite = empty_database_url.startswith("sqlite")
        assert made == ["engine"] * (1 if sqlite else 2)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        with pytest.raises(Conflict, match="at migration '0099', which this review-harness"):
            ensure_schema(empty_database_url, factory)
    finally:
        engine.dispose()


def test_sqlite_file_revision_reads_only_plain_existing_files(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert sqlite_file_revision(f"sqlite:///{missing}") is None
    assert not missing.exists()  # not created: `migrate` makes new databases
    plain = tmp_path / "plain.db"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert sqlite_file_revision(f"sqlite:///{plain}") is None  # no revision table
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (HEAD,))
    assert sqlite_file_revision(f"sqlite:///{plain}") == HEAD
    # forms SQLAlchemy reads its own way: left to `migrate`
    for url in (f"sqlite:///{plain}?mode=ro", "sqlite://", "sqlite:///:memory:",
                f"sqlite+pysqlite:///{plain}", "postgresql+psycopg://u@h/db"):
        assert sqlite_file_revision(url) is None, url
    (tmp_path / "not-a-db").write_text("hello")
    assert sqlite_file_revision(f"sqlite:///{tmp_path / 'not-a-db'}") is None

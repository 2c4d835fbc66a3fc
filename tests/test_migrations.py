"""Schema migrations applied to a database that already holds data, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from helpers import REPO, task_line, write_jsonl
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from harness.analysis.core import DEFAULT_MAX_BYTES
from harness.analysis.store import analyses_for, context_hash
from harness.db import make_engine, make_sessionmaker
from harness.importer import import_tasks
from harness.projects import create_project
from harness.setup import alembic_config, migrate

T2_CONTEXT = context_hash("python", {"test_s.py": "assert f(12345) == 42\n"}, DEFAULT_MAX_BYTES)
HINT = {"analyzer": "gaming", "rule_id": "special-cased-test-input", "title": "t",
        "severity": "medium", "confidence": None, "cwe": None, "file_path": "solution.py",
        "line_start": 2, "line_end": 3, "message": "m", "doc_url": None}
INSERT = text(
    "INSERT INTO analyses (content_hash, versions_key, versions, hints, metrics, summary, "
    "created_at) VALUES (:h, 'k', '{}', :hints, '{}', :summary, '2026-11-01 00:00:00')"
)


@pytest.fixture
def engine_at_0001(empty_database_url: str) -> Iterator[Engine]:
    """A database (SQLite and PostgreSQL) migrated to 0001 only."""
    engine = make_engine(empty_database_url)
    command.upgrade(alembic_config(engine), "0001")
    yield engine
    engine.dispose()


def _insert(engine: Engine, digest: str, summary: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT, {"h": digest, "hints": json.dumps([HINT]),
                              "summary": json.dumps(summary)})


def test_0002_takes_each_analysis_context_from_its_summary(engine_at_0001: Engine) -> None:
    _insert(engine_at_0001, "h1", {"hints": 1, "context_hash": T2_CONTEXT})
    _insert(engine_at_0001, "h2", {"hints": 1})  # written before contexts existed
    migrate(engine_at_0001)

    with engine_at_0001.connect() as conn:
        rows = dict(conn.execute(text("SELECT content_hash, context_hash FROM analyses")).all())
    assert rows == {"h1": T2_CONTEXT, "h2": ""}
    columns = {c["name"]: c for c in inspect(engine_at_0001).get_columns("analyses")}
    assert columns["context_hash"]["nullable"] is False
    uniques = inspect(engine_at_0001).get_unique_constraints("analyses")
    assert [u["column_names"] for u in uniques] == [["content_hash", "versions_key", "context_hash"]]

    with Session(engine_at_0001) as s:
        found = analyses_for(s, ["h1", "h2"], context=T2_CONTEXT)
        assert [h.rule_id for h in found["h1"][0]] == ["special-cased-test-input"]
        assert "h2" not in found  # no context: never served, `harness analyze` recomputes
    with engine_at_0001.begin() as conn:  # the same content under another context is a new row
        conn.execute(text(
            "INSERT INTO analyses (content_hash, versions_key, context_hash, versions, hints, "
            "metrics, summary, created_at) VALUES ('h1', 'k', 'other', '{}', '[]', '{}', '{}', "
            "'2026-11-02 00:00:00')"))
    with pytest.raises(IntegrityError), engine_at_0001.begin() as conn:
        conn.execute(text(
            "INSERT INTO analyses (content_hash, versions_key, context_hash, versions, hints, "
            "metrics, summary, created_at) VALUES ('h1', 'k', 'other', '{}', '[]', '{}', '{}', "
            "'2026-11-03 00:00:00')"))


def test_0002_downgrade_keeps_the_newest_row_per_old_key(engine_at_0001: Engine) -> None:
    _insert(engine_at_0001, "h1", {"context_hash": T2_CONTEXT})
    migrate(engine_at_0001)
    with engine_at_0001.begin() as conn:
        conn.execute(text(
            "INSERT INTO analyses (content_hash, versions_key, context_hash, versions, hints, "
            "metrics, summary, created_at) VALUES ('h1', 'k', 'other', '{}', '[]', '{}', '{}', "
            "'2026-11-02 00:00:00')"))
    command.downgrade(alembic_config(engine_at_0001), "0001")
    with engine_at_0001.connect() as conn:
        rows = conn.execute(text("SELECT content_hash, hints FROM analyses")).all()
    # SQLite hands JSON back as text, psycopg parses it
    assert [(h, json.loads(v) if isinstance(v, str) else v) for h, v in rows] == [("h1", [])]
    assert "context_hash" not in {
        c["name"] for c in inspect(engine_at_0001).get_columns("analyses")
    }
    migrate(engine_at_0001)  # and up again


def test_head_constant_is_alembics_head(empty_database_url: str) -> None:
    """`migrate` skips Alembic when the database is at HEAD: HEAD must be the real head."""
    from alembic.script import ScriptDirectory

    from harness.setup import HEAD, schema_revision

    engine = make_engine(empty_database_url)
    assert schema_revision(engine) is None
    migrate(engine)
    script = ScriptDirectory.from_config(alembic_config(engine))
    assert script.get_current_head() == HEAD == schema_revision(engine)
    engine.dispose()


def test_migrations_reach_the_models_schema(empty_database_url: str) -> None:
    """Upgrading an empty database gives exactly the tables and columns the models declare."""
    from harness.models import Base

    engine = make_engine(empty_database_url)
    try:
        migrate(engine)
        found = inspect(engine)
        tables = set(found.get_table_names()) - {"alembic_version"}
        assert tables == set(Base.metadata.tables)
        for name, table in Base.metadata.tables.items():
            assert {c["name"] for c in found.get_columns(name)} == set(table.columns.keys()), name
    finally:
        engine.dispose()


def test_0011_counts_the_tasks_of_existing_projects(empty_database_url: str,
                                                   tmp_path: Path) -> None:
    """Projects made before 0011 (here: made at head, then taken back to 0010, which
    drops the count) get their count when 0011 runs, and no migration loses rows."""
    engine = make_engine(empty_database_url)
    try:
        migrate(engine)
        rubric = REPO / "rubrics" / "code-review.yaml"
        with Session(engine) as session:
            for slug, tasks in (("a", 3), ("b", 0)):
                spec = tmp_path / f"{slug}.yaml"
                spec.write_text(f"name: {slug}\nslug: {slug}\nrubric: {rubric}\n")
                project, _ = create_project(session, spec)
                if tasks:
                    import_tasks(session, project, write_jsonl(
                        tmp_path / f"{slug}.jsonl", [task_line(f"t{i}") for i in range(tasks)]))
            session.commit()
        command.downgrade(alembic_config(engine), "0010")
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as conn:
            counts = dict(conn.execute(text("SELECT slug, task_count FROM projects")).all())
            tasks = conn.execute(text("SELECT count(*) FROM tasks")).scalar_one()
        # SQLite recreates the projects table on the way down; with foreign keys on, that
        # used to cascade-delete every task
        assert tasks == 3
        assert counts == {"a": 3, "b": 0}
    finally:
        engine.dispose()


def test_0007_gives_existing_annotations_their_assignments_project(db, make_project,
                                                                   import_file) -> None:
    """Annotations made before 0007 get their assignment's project, so the lab API's
    (project_id, id) pages find them."""
    from helpers import DEMO_TASKS

    from harness import simulate

    for slug in ("m1", "m2"):
        project = make_project(slug, overlap=2)
        import_file(project, DEMO_TASKS)
        simulate.simulate(db, project, 2, seed=3)
    db.commit()
    engine = db.get_bind()
    db.close()
    config = alembic_config(engine)
    command.downgrade(config, "0006")
    assert "project_id" not in {c["name"] for c in inspect(engine).get_columns("annotations")}
    command.upgrade(config, "0007")
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.project_id, s.project_id FROM annotations a "
            "JOIN assignments s ON s.id = a.assignment_id")).all()
        findings = conn.execute(text("SELECT count(*) FROM findings")).scalar()
    assert len(rows) > 20 and all(mine == theirs for mine, theirs in rows)
    assert {mine for mine, _ in rows} == {1, 2} and findings
    assert "ix_annotations_project_id_id" in {
        i["name"] for i in inspect(engine).get_indexes("annotations")}


def test_0012_versions_from_before_get_their_stored_records(db, make_project, import_file,
                                                            settings) -> None:
    """Versions submitted before 0012 have no stored record body; `migrate` fills them
    after the upgrade, and the jsonl export gives the same bytes as before."""
    from helpers import DEMO_TASKS

    from harness import exports, simulate
    from harness.models import Project

    project = make_project("m", overlap=2)
    import_file(project, DEMO_TASKS)
    simulate.simulate(db, project, 2, seed=3, versions=2)
    db.commit()
    before = b"".join(exports.get("jsonl").stream(db, project))
    engine = db.get_bind()
    db.close()
    command.downgrade(alembic_config(engine), "0011")
    assert "record" not in {c["name"] for c in inspect(engine).get_columns("annotations")}
    told: list[str] = []
    migrate(engine, say=told.append)
    with engine.connect() as conn:
        missing, versions = conn.execute(text(
            "SELECT count(*) - count(record), count(*) FROM annotations")).one()
    assert versions > 20 and missing == 0
    assert f"storing the exported records of {versions:,} annotation versions" in told[0]
    with make_sessionmaker(engine, settings)() as session:  # the secret key: pseudonyms
        again = session.get(Project, project.id)
        assert b"".join(exports.get("jsonl").stream(session, again)) == before

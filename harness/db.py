"""Engine and session factory. Nothing connects at import time."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVarTuple, overload

if TYPE_CHECKING:
    from sqlalchemy import CursorResult, Engine, Executable
    from sqlalchemy.orm import Session, sessionmaker
    from sqlalchemy.sql.selectable import TypedReturnsRows

    from harness.settings import Settings

# SQLAlchemy loads with the first engine, and its ORM with the first session factory: a
# server's first answer (the login form) reads no database, and the schema check before it
# needs only the standard library on SQLite (harness.setup.ensure_schema; issue 13's cold
# start). Importing this module loads neither.


class JSONText(str):
    """A value already written as JSON text: a JSON column stores it as it is (the
    engines' `json_serializer`), for a bulk insert that writes its large JSON values with
    a faster encoder (harness.importer: a candidate's files)."""


def _json_serializer(value: Any) -> str:
    """SQLAlchemy's default (json.dumps), but for JSONText."""
    return value if type(value) is JSONText else json.dumps(value)


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    from sqlalchemy import create_engine, event

    kwargs.setdefault("json_serializer", _json_serializer)
    if database_url.startswith("sqlite"):
        _create_private(database_url)
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(database_url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(database_url, **kwargs)


def _create_private(database_url: str) -> None:
    """A new SQLite file is made readable by its owner only (password and token hashes,
    every annotation), whatever the umask or the data dir's mode; SQLite gives its -wal
    and -shm files the same mode. An existing file is left as its owner set it."""
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError):
        pass  # there already, or its folder is not (SQLite will say so)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_sessionmaker(engine: Engine, settings: Settings | None = None) -> sessionmaker[Session]:
    """Sessions that carry the settings (`harness.settings.of(session)`)."""
    from sqlalchemy.orm import sessionmaker

    info = {"settings": settings} if settings is not None else {}
    return sessionmaker(bind=engine, expire_on_commit=False, info=info)


_Ts = TypeVarTuple("_Ts")


@overload
def execute_core(session: Session, statement: TypedReturnsRows[*_Ts],
                 params: Mapping[str, Any] | None = None) -> CursorResult[*_Ts]: ...
@overload
def execute_core(session: Session, statement: Executable,
                 params: Mapping[str, Any] | None = None) -> CursorResult[*tuple[Any, ...]]: ...
def execute_core(session: Session, statement: Executable,
                 params: Mapping[str, Any] | None = None) -> CursorResult[*tuple[Any, ...]]:
    """Run a statement that loads no ORM objects (plain columns, or an UPDATE .. RETURNING
    of columns) on the session's connection, in its transaction, past the ORM's
    per-statement work: `session.execute` spends ~80 µs on it here, more than a short
    statement's own run, and the hot requests (every request's user, the review page, a
    draft save) run several. Pending ORM changes are flushed first, as `session.execute`
    would (a no-op when there are none)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit once at the end, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

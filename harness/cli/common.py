"""What every command needs: settings, a database session, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

import click

from harness.db import make_engine, make_sessionmaker, session_scope
from harness.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


@cache
def settings() -> Settings:
    return Settings.from_env()  # a SettingsError becomes the command's one-line reason


@cache
def engine() -> Engine:
    """Made on first use: `harness serve` on a SQLite database at the newest revision
    starts without one (harness.setup.ensure_schema)."""
    return make_engine(settings().database_url)


@cache
def session_factory() -> sessionmaker[Session]:
    return make_sessionmaker(engine(), settings())


@cache
def current_schema() -> None:
    """The database brought to this release's schema, once per process, as `harness serve`
    does when it starts: a command run right after an upgrade works instead of failing on
    a missing column. An unknown (newer) schema is refused with a one-line reason."""
    from harness import setup

    setup.ensure_schema(settings().database_url, engine,
                        say=lambda line: click.echo(line, err=True))


@contextmanager
def session() -> Iterator[Session]:
    """A unit of work for one command, on the current schema; commits once when the
    block ends."""
    current_schema()
    with session_scope(session_factory()) as s:
        yield s


def fail(message: str) -> click.ClickException:
    """A one-line reason and exit status 1."""
    return click.ClickException(message)

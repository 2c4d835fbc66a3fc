"""Extensions created unbound and wired with init_app."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from harness.db import make_engine, make_sessionmaker
from harness.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."


def app_settings(app: Flask | None = None) -> Settings:
    """The app's Settings: the one configuration of the process (never an app.config key,
    so nothing reads like a setting that the README's table does not list)."""
    settings: Settings = (app or current_app).extensions["harness.settings"]
    return settings


class Database:
    """One engine per app, one session per request; the request commits once.

    The commit point (as Indico's request handler has it): views and services
    only add and flush; when the view has returned a response below 500, the
    session is committed here, once. An error that escapes the view is turned
    into a response by `web/errors.py`, which rolls the session back first, so
    a refused request changes nothing. A commit that fails becomes a 500.
    """

    def init_app(self, app: Flask) -> None:
        # no engine yet: `app_engine(app)` makes it when a request first reads the database
        app.after_request(self._commit)
        app.teardown_appcontext(self._close)

    @staticmethod
    def _commit(response: Response) -> Response:
        session: Session | None = g.get("db_session")
        if session is not None and not g.get("db_rollback") and response.status_code < 500:
            session.commit()
        return response

    @property
    def engine(self) -> Engine:
        return app_engine(current_app)

    @property
    def factory(self) -> sessionmaker[Session]:
        return session_factory(current_app)

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.factory()
        session: Session = g.db_session
        return session

    def release(self) -> None:
        """End the request's read-only transaction and return its connection to the
        pool before long work that opens sessions of its own (a probe run)."""
        session: Session | None = g.get("db_session")
        if session is not None:
            assert not (session.new or session.dirty or session.deleted), "unsaved writes"
            session.rollback()

    @staticmethod
    def _close(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


_factory_lock = threading.RLock()


def app_engine(app: Flask) -> Engine:
    """The app's engine, made on first use: SQLAlchemy loads with the first request that
    reads the database (or the background jobs a second after start-up), not before the
    server's first answer (issue 13's cold start)."""
    with _factory_lock:
        made: Engine | None = app.extensions.get("harness.engine")
        if made is None:
            made = make_engine(app_settings(app).database_url)  # connects on first use
            app.extensions["harness.engine"] = made
    return made


def dispose_engine(app: Flask) -> None:
    """Close the pooled connections of the app's engine, if it made one."""
    made: Engine | None = app.extensions.get("harness.engine")
    if made is not None:
        made.dispose()


def session_factory(app: Flask) -> sessionmaker[Session]:
    """The app's session factory, made on first use: SQLAlchemy's ORM loads with the
    first request that reads the database, not before the server's first answer."""
    with _factory_lock:
        factory: sessionmaker[Session] | None = app.extensions.get("harness.sessionmaker")
        if factory is None:
            factory = make_sessionmaker(app_engine(app), app_settings(app))
            app.extensions["harness.sessionmaker"] = factory
    return factory


db = Database()

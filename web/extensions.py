"""Extensions created unbound and wired with init_app."""

from __future__ import annotations

from flask import Flask, current_app, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from harness.db import make_engine, make_sessionmaker
from harness.settings import Settings

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."


class Database:
    """One engine per app, one session per request; the request commits once."""

    def init_app(self, app: Flask) -> None:
        settings: Settings = app.config["HARNESS_SETTINGS"]
        url = app.config.get("DATABASE_URL", settings.database_url)
        engine = make_engine(url)  # lazy: connects on first use, not here
        app.extensions["harness.engine"] = engine
        app.extensions["harness.sessionmaker"] = make_sessionmaker(engine)
        app.teardown_appcontext(self._close)

    @property
    def engine(self) -> Engine:
        engine: Engine = current_app.extensions["harness.engine"]
        return engine

    @property
    def factory(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = current_app.extensions["harness.sessionmaker"]
        return factory

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.factory()
        session: Session = g.db_session
        return session

    @staticmethod
    def _close(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


db = Database()

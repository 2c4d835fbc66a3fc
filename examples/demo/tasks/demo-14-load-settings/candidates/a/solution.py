"""Service settings from an INI file with environment overrides."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    api_key: str


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"missing required setting: {name}")
    return value


def load_settings(path: str, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` and apply ``APP_DB_PASSWORD`` / ``APP_API_KEY`` overrides.

    Secrets have no defaults on purpose: a missing secret is a configuration
    error, not something to paper over.
    """
    env = os.environ if env is None else env
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as fh:
        parser.read_file(fh)

    db = parser["database"] if parser.has_section("database") else {}
    api = parser["api"] if parser.has_section("api") else {}

    try:
        port = int(db.get("port", "5432"))
    except ValueError as exc:
        raise ValueError(f"database.port must be an integer: {exc}") from None

    return Settings(
        db_host=_required(db.get("host"), "database.host"),
        db_port=port,
        db_user=_required(db.get("user"), "database.user"),
        db_password=_required(env.get("APP_DB_PASSWORD") or db.get("password"), "database.password"),
        api_key=_required(env.get("APP_API_KEY") or api.get("key"), "api.key"),
    )

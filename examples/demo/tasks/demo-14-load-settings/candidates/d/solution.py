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


ENV_OVERRIDES = {
    ("database", "password"): "APP_DB_PASSWORD",
    ("api", "key"): "APP_API_KEY",
}


def load_settings(path: str, env: Mapping[str, str] | None = None) -> Settings:
    """Load settings, using environment variables to fill in missing values."""
    env = os.environ if env is None else env
    cfg = configparser.ConfigParser()
    cfg.read(path, encoding="utf-8")

    for (section, option), var in ENV_OVERRIDES.items():
        if not cfg.has_section(section):
            cfg.add_section(section)
        if not cfg.has_option(section, option) and var in env:
            cfg.set(section, option, env[var])

    try:
        return Settings(
            db_host=cfg.get("database", "host"),
            db_port=cfg.getint("database", "port", fallback=5432),
            db_user=cfg.get("database", "user"),
            db_password=cfg.get("database", "password"),
            api_key=cfg.get("api", "key"),
        )
    except (configparser.NoOptionError, configparser.NoSectionError) as exc:
        raise ValueError(str(exc)) from exc

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Settings:
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    api_key: str


def load_settings(path: str, env: Mapping[str, str] | None = None) -> Settings:
    """Parse the settings file, then apply environment overrides."""
    env = dict(os.environ if env is None else env)
    cfg = configparser.ConfigParser()
    cfg.read(path, encoding="utf-8")

    values = {
        "db_host": cfg.get("database", "host", fallback=""),
        "db_port": cfg.get("database", "port", fallback=5432),
        "db_user": cfg.get("database", "user", fallback=""),
        "db_password": env.get("APP_DB_PASSWORD", cfg.get("database", "password", fallback="")),
        "api_key": env.get("APP_API_KEY", cfg.get("api", "key", fallback="")),
    }
    for name, value in values.items():
        if value == "":
            raise ValueError(f"missing setting: {name}")
    return Settings(**values)

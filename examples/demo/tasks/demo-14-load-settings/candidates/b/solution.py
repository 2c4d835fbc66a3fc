import configparser
import os
from dataclasses import dataclass
from typing import Mapping, Optional

# Defaults so the service can start in development without extra setup.
DEFAULT_DB_PASSWORD = "Pr0d-Passw0rd!2024"
DEFAULT_API_KEY = "ak_live_7f3c9a12e4b84d0f9c6e5b2a1d8f4e70"


@dataclass(frozen=True)
class Settings:
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    api_key: str


def load_settings(path: str, env: Optional[Mapping[str, str]] = None) -> Settings:
    """
    Load application settings from an INI file.

    Environment variables APP_DB_PASSWORD and APP_API_KEY take precedence
    over values in the file.
    """
    if env is None:
        env = os.environ

    config = configparser.ConfigParser()
    config.read(path)

    host = config.get("database", "host", fallback=None)
    user = config.get("database", "user", fallback=None)
    if not host or not user:
        raise ValueError("database.host and database.user are required")

    password = env.get("APP_DB_PASSWORD") or config.get(
        "database", "password", fallback=DEFAULT_DB_PASSWORD
    )
    api_key = env.get("APP_API_KEY") or config.get("api", "key", fallback=DEFAULT_API_KEY)

    return Settings(
        db_host=host,
        db_port=config.getint("database", "port", fallback=5432),
        db_user=user,
        db_password=password,
        api_key=api_key,
    )

"""Settings, read once from the environment into a frozen dataclass.

Nothing here has a hard-coded secret: when SECRET_KEY is unset a key is
generated once into the data dir (mode 0600) and read back on later starts.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


class SettingsError(Exception):
    """A setting is missing or wrong; the message says which and what was expected."""


def _int_env(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value}: must be at least {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    max_file_bytes: int = 1024 * 1024
    sandbox_backend: str = "auto"
    run_concurrency: int = 0  # 0: one per CPU
    lease_minutes: int = 30
    # Where the offline-built sandbox root filesystem and its tar are kept;
    # shared between data dirs (tests point it at one cache).
    sandbox_dir: Path = Path("instance/sandbox")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, create: bool = True) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("HARNESS_DATA_DIR") or "./instance").resolve()
        if data_dir.exists() and not data_dir.is_dir():
            raise SettingsError(f"HARNESS_DATA_DIR={data_dir}: exists and is not a directory")
        if create:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'harness.db'}"
        if "://" not in database_url:
            raise SettingsError(
                f"DATABASE_URL={database_url!r}: expected a URL such as "
                "sqlite:////path/harness.db or postgresql+psycopg://user@host/db"
            )
        secret_key = env.get("SECRET_KEY") or _load_or_create_secret(data_dir, create=create)
        if len(secret_key) < 16:
            raise SettingsError("SECRET_KEY: must be at least 16 characters")
        backend = env.get("HARNESS_SANDBOX", "auto")
        if backend not in {"auto", "docker", "bwrap"}:
            raise SettingsError(f"HARNESS_SANDBOX={backend!r}: expected auto, docker or bwrap")
        sandbox_dir = Path(env.get("HARNESS_SANDBOX_DIR") or data_dir / "sandbox").resolve()
        return cls(
            data_dir=data_dir,
            sandbox_dir=sandbox_dir,
            database_url=database_url,
            secret_key=secret_key,
            max_file_bytes=_int_env(env, "HARNESS_MAX_FILE_BYTES", 1024 * 1024, minimum=1),
            sandbox_backend=backend,
            run_concurrency=_int_env(env, "HARNESS_RUN_CONCURRENCY", 0),
            lease_minutes=_int_env(env, "HARNESS_LEASE_MINUTES", 30, minimum=1),
        )


def _load_or_create_secret(data_dir: Path, *, create: bool) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        raise SettingsError(f"{path}: is empty; delete it to generate a new key")
    if not create:
        raise SettingsError(f"SECRET_KEY is unset and {path} does not exist")
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key

"""Settings, read once from the environment into a frozen dataclass.

Nothing here has a hard-coded secret: when SECRET_KEY is unset a key is
generated once into the data dir (mode 0600) and read back on later starts.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


DEFAULT_MAX_FILE_BYTES = 1 << 20
"""Size cap per candidate or test file (import, analysis, `sandbox run`)."""
DEFAULT_LEASE_MINUTES = 30
"""How long a claimed task stays with its annotator without a save or heartbeat."""


class SettingsError(InvalidInput):
    """A setting is missing or wrong; the message says which and what was expected."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_setting", message)


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


def max_file_bytes_from_env(env: dict[str, str] | None = None) -> int:
    """HARNESS_MAX_FILE_BYTES alone, for commands that need no data dir (`harness hints`)."""
    return _int_env(dict(os.environ if env is None else env), "HARNESS_MAX_FILE_BYTES",
                    DEFAULT_MAX_FILE_BYTES, minimum=1)


MIN_LEASE_MINUTES = 0.05
"""3 seconds: short leases exist for load tests of lease expiry (bench/load.py)."""


def _lease_env(env: dict[str, str]) -> float:
    """HARNESS_LEASE_MINUTES: whole minutes, or a fraction of one (0.1 is 6 s)."""
    raw = env.get("HARNESS_LEASE_MINUTES")
    if raw is None or raw == "":
        return DEFAULT_LEASE_MINUTES
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"HARNESS_LEASE_MINUTES={raw!r}: expected a number") from None
    if not value >= MIN_LEASE_MINUTES or value == float("inf"):
        raise SettingsError(f"HARNESS_LEASE_MINUTES={raw}: must be at least {MIN_LEASE_MINUTES}")
    return int(value) if value.is_integer() else value


def _redis_url(env: dict[str, str]) -> str:
    url = env.get("REDIS_URL", "")
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"REDIS_URL={url!r}: expected redis://host:port/db or "
                            "unix:///path/redis.sock")
    return url


def _bool_env(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r}: expected 1 or 0")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    sandbox_backend: str = "auto"
    run_concurrency: int = 0  # 0: one per CPU
    lease_minutes: float = DEFAULT_LEASE_MINUTES
    redis_url: str = ""  # set: test runs go through RQ on this Redis to `harness worker`s
    probe_slots: int = 0  # probes one server process runs at once; 0: half the CPUs
    inprocess_worker: bool = True  # `harness serve` runs queued test runs itself
    # Processes `harness serve` forks to share its port (HARNESS_WEB_WORKERS): one is
    # bound to one core by the GIL; background jobs run in the first only.
    web_workers: int = 1
    # Webhook hosts (or IP addresses) that may resolve to loopback, private or link-local
    # addresses; everything else that does is refused (HARNESS_WEBHOOK_ALLOW, comma-separated).
    webhook_allow: tuple[str, ...] = ()
    # How often `harness serve` and `harness worker` look for due webhook deliveries
    # (HARNESS_WEBHOOK_POLL_MS); 0: they send none, and `harness webhook deliver` must.
    webhook_poll_ms: int = 2000
    max_upload_mb: int = 256  # a task file a lead uploads in the browser
    # Served over HTTPS (directly or behind a TLS proxy): the session cookie is Secure
    # and pages send Strict-Transport-Security (HARNESS_HTTPS=1).
    https: bool = False
    # Reverse proxies in front of the app that each append the client's address to
    # X-Forwarded-For (HARNESS_PROXY_HOPS): 0 trusts no such header. Behind a proxy with
    # 0 every client has the proxy's address, and the login limit per address is one
    # limit for everyone.
    proxy_hops: int = 0
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
            max_file_bytes=max_file_bytes_from_env(env),
            sandbox_backend=backend,
            run_concurrency=_int_env(env, "HARNESS_RUN_CONCURRENCY", 0),
            lease_minutes=_lease_env(env),
            probe_slots=_int_env(env, "HARNESS_PROBE_SLOTS", 0),
            redis_url=_redis_url(env),
            inprocess_worker=_bool_env(env, "HARNESS_INPROCESS_WORKER", True),
            web_workers=_int_env(env, "HARNESS_WEB_WORKERS", 1, minimum=1),
            webhook_allow=tuple(h.strip().lower() for h in
                                env.get("HARNESS_WEBHOOK_ALLOW", "").split(",") if h.strip()),
            webhook_poll_ms=_int_env(env, "HARNESS_WEBHOOK_POLL_MS", 2000),
            max_upload_mb=_int_env(env, "HARNESS_MAX_UPLOAD_MB", 256, minimum=1),
            https=_bool_env(env, "HARNESS_HTTPS", False),
            proxy_hops=_int_env(env, "HARNESS_PROXY_HOPS", 0),
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


def of(session: Session) -> Settings | None:
    """The settings a session's factory was made with (`harness.db.make_sessionmaker`).

    Services read the few settings they need (the lease, the file size cap) from
    the session they are given, so no default is threaded through signatures.
    """
    found = session.info.get("settings")
    return found if isinstance(found, Settings) else None


def lease_minutes(session: Session) -> float:
    found = of(session)
    return found.lease_minutes if found is not None else DEFAULT_LEASE_MINUTES


def max_file_bytes(session: Session) -> int:
    found = of(session)
    return found.max_file_bytes if found is not None else DEFAULT_MAX_FILE_BYTES

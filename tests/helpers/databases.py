"""The databases the tests run on, each migrated once per test session.

SQLite: the schema is migrated once into a template file, and each test gets a copy
(a file copy costs ~0.2 ms; running Alembic costs ~130 ms).

PostgreSQL: a throwaway cluster from Debian's server binaries (`make system-test`
installs the `postgresql` package): initdb into a temp dir, listening on a Unix socket in
that dir only (no TCP), run as the `postgres` user when the tests run as root (the
server refuses root). The schema is migrated once into a template database, and each
test gets `CREATE DATABASE ... TEMPLATE`, PostgreSQL's own copy of a file.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.db import make_engine
from harness.setup import migrate

PG_TEMPLATE = "harness_template"
# Durability is not what the tests look at; these make the cluster fast.
PG_SETTINGS = {
    "listen_addresses": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


def build_sqlite_template(directory: Path) -> Path:
    """A migrated SQLite file to copy, in one piece (the WAL folded back into it)."""
    path = directory / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def copy_sqlite_template(template: Path, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


class PostgresUnavailable(Exception):
    """The server binaries are missing or the cluster did not start; the message says why."""


def postgres_bindir() -> Path:
    """Debian keeps the server binaries out of PATH, one dir per major version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    if not versions:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (no initdb in PATH or "
            "/usr/lib/postgresql/*/bin); `make system-test` installs Debian's postgresql")
    return versions[-1].parent


PREFIX = "harness-pg-"
PR_SET_PDEATHSIG = 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_clusters() -> None:
    """Remove the files of clusters whose test session and server are both gone (a
    session killed before its teardown). A live server is never touched."""
    for root in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):
            continue  # being set up, or not ours
        if _alive(owner):
            continue
        try:
            server = int((root / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            server = 0
        if server and _alive(server):
            continue
        shutil.rmtree(root, ignore_errors=True)


def _server_preexec(user: str | None) -> Any:
    """In the server's process before exec: drop to `user`, then ask the kernel for
    SIGQUIT (PostgreSQL's immediate shutdown) when the test session dies, however it dies.
    The order matters: a change of credentials clears the parent-death signal."""
    import ctypes
    import pwd

    entry = pwd.getpwnam(user) if user else None
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        if entry is not None:
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)

    return preexec


class PostgresCluster:
    """A PostgreSQL server of our own: a child process, on a Unix socket in its temp dir,
    that dies with the test session."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        sweep_dead_clusters()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.root / "owner").write_text(str(os.getpid()))  # for sweep_dead_clusters
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._admin: Any = None
        self._dropper: Any = None
        self._drop_conn: Any = None
        self._drops: list[Any] = []

    def _run(self, *args: str) -> None:
        proc = subprocess.run(args, user=self.user, group=self.user, extra_groups=[] if self.user else None,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if proc.returncode:
            raise PostgresUnavailable(f"{' '.join(args)}: {proc.stderr.strip() or proc.stdout}")

    def start(self) -> None:
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        self.root.chmod(0o700)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        options = [arg for key, value in PG_SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        log = (self.root / "server.log").open("wb")
        self.process = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-k", str(self.root), *options],
            preexec_fn=_server_preexec(self.user),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 60
        while not (self.root / ".s.PGSQL.5432").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise PostgresUnavailable(
                    "the PostgreSQL server did not start: "
                    + (self.root / "server.log").read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        self._admin = self._connect("postgres")
        self._admin.execute(f"CREATE DATABASE {PG_TEMPLATE}")
        engine = make_engine(self.url(PG_TEMPLATE), poolclass=_null_pool())
        migrate(engine)
        engine.dispose()

    def _connect(self, dbname: str) -> Any:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                return psycopg.connect(host=str(self.root), user="postgres", dbname=dbname,
                                       autocommit=True)
            except psycopg.OperationalError:  # the socket exists before it accepts
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@/{dbname}?host={self.root}"

    def create(self, *, template: str | None = PG_TEMPLATE) -> str:
        """A new database (a copy of the migrated template, or empty); returns its name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        source = f" TEMPLATE {template}" if template else ""
        self._admin.execute(f"CREATE DATABASE {name}{source}")
        return name

    def drop(self, name: str) -> None:
        """Dropped by a thread of its own: DROP DATABASE waits for a checkpoint (~0.3 s),
        which the next test need not wait for."""
        if self._dropper is None:
            from concurrent.futures import ThreadPoolExecutor

            self._dropper = ThreadPoolExecutor(1, thread_name_prefix="pg-drop")
            self._dropper.submit(self._open_dropper).result()
        self._drops.append(self._dropper.submit(
            self._drop_conn.execute, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def _open_dropper(self) -> None:
        self._drop_conn = self._connect("postgres")

    def stop(self) -> None:
        if self._dropper is not None:
            self._dropper.submit(lambda: self._drop_conn.close())
            self._dropper.shutdown(wait=True)
            for done in self._drops:
                done.result()  # a failed drop is a fault of the set-up: say so
        if self._admin is not None:
            self._admin.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: disconnects clients
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool

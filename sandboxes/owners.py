"""Which harness process owns a sandbox, and whether that process still lives.

Several harness processes may share a host (a server and a worker, two
workers); each removes only the sandboxes it owns or whose owner is dead. An
owner is `host:pid:start`, where `start` is the process's start time in clock
ticks since boot (field 22 of /proc/PID/stat): a pid reused by an unrelated
process after the owner died has another start time, so it does not keep the
dead owner's sandboxes alive, and a live owner is never mistaken for a dead one.

This is the one liveness rule: the run queue (which worker holds a run), the
docker containers' labels, the bwrap cgroups and the staging dirs all use it.
Names on the local host (cgroups, staging dirs) carry `pid.start` (`local_tag`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

HOST = socket.gethostname()

_own: dict[int, str] = {}  # pid -> start token (forked children get their own)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def start_token(pid: int) -> str | None:
    """The process's start time (clock ticks after boot) as text, None if it is gone."""
    fields = _stat_fields(pid)
    # After the name: state is field 3 (index 0), starttime is field 22 (index 19).
    return fields[19] if fields and len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a running process on this host; a zombie counts as dead.

    An unreaped zombie still answers kill(pid, 0), so /proc tells them apart.
    A process we may not signal (another user's) is alive.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat_fields(pid)
    if fields is None:
        return not Path("/proc/self").exists()  # no /proc: trust kill(0)
    return fields[:1] != ["Z"] and fields[:1] != ["X"]


def my_token() -> str:
    pid = os.getpid()
    if pid not in _own:
        _own[pid] = start_token(pid) or "0"
    return _own[pid]


def owner_id() -> str:
    """This process as an owner: `host:pid:start`."""
    return f"{HOST}:{os.getpid()}:{my_token()}"


def local_tag() -> str:
    """This process in local names (cgroups, staging dirs): `pid.start`."""
    return f"{os.getpid()}.{my_token()}"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    token: str | None  # None: a name from before owners carried a start token


def process_alive(pid: int, token: str | None) -> bool:
    """Whether the process `pid` that started at `token` runs on this host now."""
    if pid == os.getpid():
        return token is None or token == my_token()
    if not pid_alive(pid):
        return False
    if token is None or not token.isdigit():
        return True  # an old name without a start time: the pid is all we know
    return start_token(pid) == token


def parse_owner(owner: str) -> Owner | None:
    """`host:pid:token[:suffix]` -> Owner; None when it is not one."""
    parts = owner.split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return Owner(parts[0], int(parts[1]), parts[2] if len(parts) > 2 and parts[2] else None)


def owner_alive(owner: str) -> bool:
    """Whether the owner `host:pid:start` is alive; an owner on another host is
    assumed alive (only it can tell), an unparsable one too (never remove blindly)."""
    parsed = parse_owner(owner)
    if parsed is None or parsed.host != HOST:
        return True
    return process_alive(parsed.pid, parsed.token)


def parse_local_tag(name: str) -> tuple[int, str | None] | None:
    """`pid.start-rest` or the older `pid-rest` -> (pid, start or None)."""
    head = name.split("-", 1)[0]
    pid_text, _, token = head.partition(".")
    if not pid_text.isdigit() or (token and not token.isdigit()):
        return None
    return int(pid_text), token or None


def local_name_alive(name: str) -> bool:
    """Whether the process named at the start of a local name is alive (an
    unparsable name counts as alive: it is not ours to remove)."""
    parsed = parse_local_tag(name)
    return True if parsed is None else process_alive(*parsed)

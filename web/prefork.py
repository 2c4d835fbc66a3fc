"""`harness serve --workers N`: N pre-forked server processes sharing one listening socket.

One process is held to one core by the GIL; a write request is mostly Python, so a
server on several cores needs several processes. The parent binds the socket, forks
N children and does nothing else but watch them: each child builds its own app (its
own engine and connection pool, nothing is inherited open) and serves the shared
socket with waitress; the kernel hands each connection to one of them.

- Background jobs (the in-process run worker, the webhook delivery loop) run in
  slot 0 only, so there is exactly one of each whatever N is; a restarted slot 0
  starts them again.
- SIGTERM or SIGINT to the parent stops every child (SIGTERM, then SIGKILL after
  STOP_SECONDS) and the parent exits 0. Children ignore SIGINT (Ctrl-C reaches the
  whole process group; the parent decides) and die with the parent if it is killed
  (PR_SET_PDEATHSIG), so no server process is left behind.
- A child that dies is started again; a slot that dies more than RESTARTS times in
  WINDOW seconds stops the whole server with exit status 1 and says why.

The database needs nothing more: SQLite in WAL mode already serialises writers
across connections with its file lock (threads of one process hold separate
connections too), and PostgreSQL's row locks do not care which process holds them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable

RESTARTS = 5
WINDOW = 60.0
STOP_SECONDS = 10.0
PR_SET_PDEATHSIG = 1
SIGNALS = {signal.SIGTERM, signal.SIGINT}


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """The shared listening socket, bound before any child exists."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class _Stop(Exception):
    """Raised in the parent's main loop by its SIGTERM/SIGINT handler."""


def _stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def _say(message: str) -> None:
    print(f"harness serve: {message}", file=sys.stderr, flush=True)


def _die_with_parent(parent: int) -> None:
    """SIGTERM this process when its parent dies (Linux); exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's handlers still stop us
        pass
    if os.getppid() != parent:
        os._exit(0)


def _child_stop(_signum: int, _frame: object) -> None:
    raise SystemExit(0)  # out of waitress's loop in the main thread; os._exit follows


def _spawn(slot: int, child: Callable[[int], None]) -> int:
    """Fork one server process for `slot`; returns its pid (in the parent)."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _child_stop)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        _die_with_parent(parent)
        child(slot)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - said on stderr; the parent restarts the slot
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _stop_children(pids: dict[int, int]) -> None:
    """SIGTERM every child, SIGKILL those still there after STOP_SECONDS; reap all."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_SECONDS
    while pids:
        pid, _ = os.waitpid(-1, os.WNOHANG)
        if pid:
            pids.pop(pid, None)
            continue
        if time.monotonic() > deadline:
            for left in pids:
                try:
                    os.kill(left, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for left in list(pids):
                os.waitpid(left, 0)
                pids.pop(left)
            break
        time.sleep(0.05)


def supervise(workers: int, child: Callable[[int], None]) -> int:
    """Run `child(slot)` in `workers` forked processes until SIGTERM/SIGINT (returns 0)
    or until a slot keeps dying (returns 1)."""
    pids: dict[int, int] = {}  # pid -> slot
    deaths: dict[int, list[float]] = {}
    # Signals are held while forking, so a stop never finds a child it does not know.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    previous = {sig: signal.signal(sig, _stop) for sig in SIGNALS}
    status = 0
    try:
        for slot in range(workers):
            pids[_spawn(slot, child)] = slot
        while True:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            pid, wait_status = os.wait()
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
            slot = pids.pop(pid, -1)
            if slot < 0:
                continue
            now = time.monotonic()
            recent = [t for t in deaths.get(slot, []) if now - t < WINDOW] + [now]
            deaths[slot] = recent
            if len(recent) > RESTARTS:
                _say(f"server process {slot} (pid {pid}) {_describe(wait_status)}, "
                     f"{len(recent)} times within {WINDOW:.0f} s: stopping the server")
                status = 1
                break
            _say(f"server process {slot} (pid {pid}) {_describe(wait_status)}; "
                 "starting another")
            pids[_spawn(slot, child)] = slot
    except _Stop as why:
        _say(f"{why}: stopping {len(pids)} server processes")
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        _stop_children(pids)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    return status

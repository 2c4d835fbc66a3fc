"""Sandboxes started ahead of need, each used exactly once.

Starting Python and importing pytest is most of a run's cost, so a backend
keeps a few started sandboxes per limits set whose runner already waits on
stdin for its job (no candidate code has run in them). Taking one starts a
replacement in the background. `size=0` starts one per run on demand.

Background starts run on a few long-lived threads, never on a thread that ends
once its sandbox is started: bwrap's `--die-with-parent` is a parent-death
signal tied to the thread that forked it, so a sandbox started from a
short-lived thread is killed as soon as that thread ends (every pre-started
bwrap sandbox died before use, and each run started a fresh one).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from sandboxes.base import Limits, RunResult, Sandbox

T = TypeVar("T")


def default_size() -> int:
    return max(2, os.cpu_count() or 2)


MAX_KEYS = 4
"""Limits sets a pool keeps spares for: the most recently used ones. A long-running
worker sees many projects' limits; each one it no longer uses would otherwise keep
`size` idle sandboxes for good."""


class WarmPool(Generic[T]):
    def __init__(self, start: Callable[[Limits], T], discard: Callable[[T], None],
                 size: int | None = None, max_keys: int = MAX_KEYS) -> None:
        self._start = start
        self._discard = discard
        self.size = default_size() if size is None else size
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._ready: dict[str, list[T]] = {}
        self._filling: dict[str, int] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()  # keys, least recent first
        self._closed = False
        self._starter: ThreadPoolExecutor | None = None
        atexit.register(self._shutdown)

    def _refill(self, limits: Limits) -> None:
        key = limits.key()
        item: T | None = None
        with contextlib.suppress(Exception):  # the next run starts its own
            item = self._start(limits)
        with self._lock:
            self._filling[key] -= 1
            if not self._filling[key]:
                del self._filling[key]
            if item is not None and not self._closed and key in self._recent:
                self._ready.setdefault(key, []).append(item)
                item = None
        if item is not None:  # closed, or its limits set was dropped meanwhile
            self._discard(item)

    def take(self, limits: Limits) -> T:
        """A started sandbox for these limits (started now if none is waiting)."""
        key = limits.key()
        with self._lock:
            self._recent[key] = None
            self._recent.move_to_end(key)
            dropped = self._drop_least_recent()
            ready = self._ready.setdefault(key, [])
            item = ready.pop(0) if ready else None
            want = max(0, self.size - len(ready) - self._filling.get(key, 0))
            if self._closed:
                want = 0
            if want:
                self._filling[key] = self._filling.get(key, 0) + want
        for spare in dropped:
            self._discard(spare)
        for _ in range(want):
            self._starter_pool().submit(self._refill, limits)
        return item if item is not None else self._start(limits)

    def _drop_least_recent(self) -> list[T]:
        """Forget the limits sets beyond `max_keys`; returns their spares to discard
        (the caller does, outside the lock). Called with the lock held."""
        dropped: list[T] = []
        while len(self._recent) > max(self.max_keys, 1):
            old, _ = self._recent.popitem(last=False)
            dropped += self._ready.pop(old, [])
        return dropped

    def keys(self) -> list[str]:
        """The limits sets spares are kept for, least recently used first."""
        with self._lock:
            return list(self._recent)

    def _starter_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._starter is None:
                self._starter = ThreadPoolExecutor(max_workers=max(2, self.size),
                                                   thread_name_prefix="sandbox-start")
            return self._starter

    def waiting(self) -> list[T]:
        with self._lock:
            return [item for items in self._ready.values() for item in items]

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is being started in the background."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(self._filling.values()):
                    return
            time.sleep(0.01)

    def drain(self) -> None:
        """Discard every waiting sandbox (the pool keeps working afterwards)."""
        with self._lock:
            items = [item for items in self._ready.values() for item in items]
            self._ready.clear()
        for item in items:
            self._discard(item)

    def close(self) -> None:
        """Discard waiting sandboxes once background starts have finished."""
        self.settle(timeout=10)
        self.drain()

    def _shutdown(self) -> None:
        with self._lock:
            self._closed = True
        self.close()


class Reaper:
    """Teardown after a run's result is known (container removal, cgroup and staging
    dir removal), off the caller's path. `settle()` waits for all of it;
    `Reaper.settle_all()` for that of every backend in this process."""

    _all: weakref.WeakSet[Reaper] = weakref.WeakSet()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = 0
        Reaper._all.add(self)
        atexit.register(self.settle)

    @classmethod
    def settle_all(cls, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for reaper in list(cls._all):
            reaper.settle(max(deadline - time.monotonic(), 0.0))

    def submit(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1

        def work() -> None:
            try:
                fn()
            finally:
                with self._lock:
                    self._pending -= 1

        threading.Thread(target=work, daemon=False).start()

    def settle(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return
            time.sleep(0.005)


def probe_run(sandbox: Sandbox, pool: WarmPool[Any], wall_s: float) -> tuple[RunResult, str | None]:
    """One trivial run, nothing started ahead, for a backend's check(): the result, and
    None when it passed or else why not."""
    saved, pool.size = pool.size, 0
    try:
        probe = sandbox.run({"solution.py": "X = 1\n"},
                            {"test_probe.py": "from solution import X\n\n"
                                              "def test_x():\n    assert X == 1\n"},
                            Limits(wall_s=wall_s))
    finally:
        pool.size = saved
    if probe.status != "passed":
        return probe, f"probe run ended {probe.status}: {probe.error or probe.stderr[-300:]}"
    return probe, None

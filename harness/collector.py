"""Python's cyclic garbage collector paused while a large output is built.

An export holds a batch of rows, tasks and candidates (tens of thousands of small
containers) at a time. Each batch that lives through two young collections is promoted,
and every ~20,000 promoted objects trigger a full pass over the whole process (the app's
~85,000 objects: 30-40 ms each). On the bench's 20,000-version exports the collector took
0.2-0.3 s of 1.2-1.6 s of CPU, and collected nothing: the exports' objects form no
cycles, and reference counting frees them.

`paused()` is counted under a lock, as requests run in threads: the collector comes back
on when the last pause in the process ends. Pause around work that does not hand control
to a caller (not across a generator's yields: a slow HTTP client would keep the collector
off for the whole download, for every thread of the server).

The lab API's annotation pages (harness/labapi.py) are built under it too: a page of 500
holds some 20,000 small containers, and the full passes they set off (30-300 ms every
few pages) were the page's p95.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

_LOCK = threading.Lock()
_pauses = 0
_was_on = False


@contextmanager
def paused() -> Iterator[None]:
    global _pauses, _was_on
    with _LOCK:
        _pauses += 1
        if _pauses == 1:
            _was_on = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _LOCK:
            _pauses -= 1
            if _pauses == 0 and _was_on:
                gc.enable()


def in_pauses(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` taken `size` at a time with the collector paused, each list handed out
    with it on: the work of a lazy `items` (reading a batch, making its lines) runs
    inside the pause, and the pause never spans a yield to the caller."""
    found = iter(items)
    while True:
        with paused():
            taken = list(islice(found, size))
        if not taken:
            return
        yield taken

"""Per-key sliding-window rate limiting."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable


class RateLimiter:
    """Allow at most ``max_calls`` per ``period`` seconds for each key.

    Each key keeps a deque of the timestamps of its accepted calls; entries
    older than the window are dropped on every check, so a deque never holds
    more than ``max_calls`` items.
    """

    def __init__(
        self,
        max_calls: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError("max_calls and period must be positive")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._calls: defaultdict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = self._clock()
        calls = self._calls[key]
        while calls and calls[0] <= now - self.period:
            calls.popleft()
        if len(calls) >= self.max_calls:
            return False
        calls.append(now)
        return True

from __future__ import annotations

import time
from collections import defaultdict
from typing import Callable


class RateLimiter:
    """Sliding-window rate limiter keyed by client id."""

    def __init__(self, max_calls: int, period: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_calls = max_calls
        self.period = period
        self.clock = clock
        # Full call log per key, handy for debugging and metrics.
        self.log: dict[str, list[float]] = defaultdict(list)

    def _recent(self, key: str, now: float) -> int:
        """Count accepted calls for ``key`` inside the current window."""
        return sum(1 for t in self.log[key] if now - t < self.period)

    def allow(self, key: str) -> bool:
        now = self.clock()
        if self._recent(key, now) >= self.max_calls:
            return False
        self.log[key].append(now)
        return True

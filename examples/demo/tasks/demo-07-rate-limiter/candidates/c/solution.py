from __future__ import annotations

import time
from collections import deque
from typing import Callable


class RateLimiter:
    """Simple sliding-window limiter.

    Keeps a single queue of recent call timestamps and allows a call when
    fewer than ``max_calls`` happened within ``period`` seconds.
    """

    def __init__(self, max_calls: int, period: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._recent: deque[float] = deque(maxlen=max_calls)

    def allow(self, key: str) -> bool:
        now = self._clock()
        while self._recent and now - self._recent[0] >= self.period:
            self._recent.popleft()
        if len(self._recent) < self.max_calls:
            self._recent.append(now)
            return True
        return False

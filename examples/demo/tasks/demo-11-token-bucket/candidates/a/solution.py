"""A token bucket with lazy, continuous refill."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allow bursts of up to ``capacity`` and a sustained ``rate`` per second."""

    def __init__(
        self,
        rate: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = float(rate)
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens

    def consume(self, tokens: int = 1) -> bool:
        """Take ``tokens`` if they are all available; otherwise take none."""
        if tokens < 0:
            raise ValueError("tokens must be non-negative")
        self._refill()
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False

from __future__ import annotations

import time
from typing import Callable


class TokenBucket:
    """Token bucket throttle with continuous refill."""

    def __init__(self, rate: float, capacity: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()

    @property
    def available(self) -> float:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return self._tokens

    def consume(self, tokens: int = 1) -> bool:
        """Consume tokens; returns whether the request may proceed."""
        remaining = self.available - tokens
        self._tokens = max(0.0, remaining)
        return remaining >= 0

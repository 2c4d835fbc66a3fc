import time
from typing import Callable, Dict, List


class RateLimiter:
    """
    Sliding window rate limiter.

    Example:
        limiter = RateLimiter(max_calls=5, period=60)
        if limiter.allow(user_id):
            handle_request()
    """

    def __init__(self, max_calls: int, period: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_calls = max_calls
        self.period = period
        self.clock = clock
        self.history: Dict[str, List[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        window_start = now - self.period

        timestamps = self.history.setdefault(key, [])
        # Drop timestamps that are outside the window.
        timestamps[:] = [t for t in timestamps if t > window_start]

        if len(timestamps) <= self.max_calls:
            timestamps.append(now)
            return True
        return False

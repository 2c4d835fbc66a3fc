import time
from typing import Callable


class TokenBucket:
    """
    Token bucket rate limiter.

    Tokens are added at a fixed rate; each request consumes tokens. If there
    aren't enough tokens, the request is rejected.
    """

    def __init__(self, rate: float, capacity: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.tokens = float(capacity)
        self.last_refill = clock()

    def _add_tokens(self) -> None:
        now = self.clock()
        self.tokens += (now - self.last_refill) * self.rate
        self.last_refill = now

    @property
    def available(self) -> float:
        self._add_tokens()
        return self.tokens

    def consume(self, tokens: int = 1) -> bool:
        self._add_tokens()
        if tokens <= self.tokens:
            self.tokens -= tokens
            return True
        return False

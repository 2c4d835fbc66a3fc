from solution import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_up_to_max_calls():
    clock = FakeClock()
    limiter = RateLimiter(3, 10.0, clock=clock)
    assert [limiter.allow("k") for _ in range(4)] == [True, True, True, False]


def test_window_slides():
    clock = FakeClock()
    limiter = RateLimiter(2, 10.0, clock=clock)
    assert limiter.allow("k")
    clock.now += 5
    assert limiter.allow("k")
    assert not limiter.allow("k")
    clock.now += 5  # first call has now expired, second has not
    assert limiter.allow("k")
    assert not limiter.allow("k")


def test_rejected_calls_are_not_recorded():
    clock = FakeClock()
    limiter = RateLimiter(1, 10.0, clock=clock)
    assert limiter.allow("k")
    clock.now += 9
    assert not limiter.allow("k")
    clock.now += 1
    assert limiter.allow("k")


def test_keys_are_independent():
    clock = FakeClock()
    limiter = RateLimiter(1, 60.0, clock=clock)
    assert limiter.allow("alice")
    assert limiter.allow("bob")
    assert not limiter.allow("alice")

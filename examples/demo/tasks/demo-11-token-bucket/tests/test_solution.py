import pytest

from solution import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_starts_full_and_drains():
    bucket = TokenBucket(rate=1.0, capacity=3, clock=FakeClock())
    assert [bucket.consume() for _ in range(4)] == [True, True, True, False]


def test_refills_over_time():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, capacity=4, clock=clock)
    assert bucket.consume(4)
    clock.now += 1.0
    assert bucket.available == pytest.approx(2.0)
    assert bucket.consume(2)
    assert not bucket.consume(1)


def test_never_exceeds_capacity():
    clock = FakeClock()
    bucket = TokenBucket(rate=5.0, capacity=3, clock=clock)
    clock.now += 100.0
    assert bucket.available == pytest.approx(3.0)
    assert bucket.consume(3)
    assert not bucket.consume(1)


def test_failed_consume_takes_nothing():
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, capacity=5, clock=clock)
    assert bucket.consume(4)
    assert not bucket.consume(3)
    assert bucket.available == pytest.approx(1.0)
    assert bucket.consume(1)


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (1, 0), (-1, 5)])
def test_invalid_parameters(rate, capacity):
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, capacity=capacity)

"""The cyclic collector is paused while exports build their output (harness/collector.py),
never across a yield to the caller, and is on again afterwards, however a pause ends."""

from __future__ import annotations

import gc

import pytest

from harness import collector, exports


@pytest.fixture(autouse=True)
def _collector_on():
    was_on = gc.isenabled()
    gc.enable()
    yield
    if was_on:
        gc.enable()
    else:
        gc.disable()


def test_pauses_nest_and_the_collector_comes_back() -> None:
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_lazy_items_are_made_paused_and_handed_out_with_the_collector_on() -> None:
    made_while = []

    def items():  # type: ignore[no-untyped-def]
        for i in range(5):
            made_while.append(gc.isenabled())
            yield i

    taken = []
    for chunk in collector.in_pauses(items(), 2):
        assert gc.isenabled()
        taken.append(chunk)
    assert taken == [[0, 1], [2, 3], [4]]
    assert made_while == [False] * 5


@pytest.mark.parametrize("fmt", ["jsonl", "preferences", "rankings"])
def test_exports_hand_out_chunks_with_the_collector_on(db, simulated, fmt) -> None:
    project = simulated(annotators=3)
    chunks = 0
    for chunk in exports.get(fmt).stream(db, project):
        assert chunk and gc.isenabled()  # the caller's code never runs paused
        chunks += 1
    assert chunks and gc.isenabled()
    stopped = exports.get(fmt).stream(db, project)
    next(stopped)
    stopped.close()  # a download broken off
    assert gc.isenabled()

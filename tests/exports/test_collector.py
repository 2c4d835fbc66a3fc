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


@pytest.mark.parametrize("fmt", ["preferences", "rankings"])
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

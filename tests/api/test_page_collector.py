"""The annotation page is built with Python's cyclic collector paused (harness/labapi.py):
paused while any page is being built, in any thread, and on again after the last one,
whatever happened while building it."""

from __future__ import annotations

import gc
import threading

import pytest

from harness import collector, labapi


def test_the_collector_is_off_while_pages_are_built_and_on_after() -> None:
    assert gc.isenabled()
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_request() -> None:
        first_in.wait(10)
        with collector.paused():
            seen.append(gc.isenabled())
        second_done.set()

    thread = threading.Thread(target=other_request)
    thread.start()
    with collector.paused():
        first_in.set()
        assert second_done.wait(10)
        assert not gc.isenabled()  # the other page is done, this one is not
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("a page that fails")
    assert gc.isenabled()


def test_a_page_leaves_the_collector_on(db, lab) -> None:
    page = labapi.annotations_page(db, lab.a, None, 500)
    assert page.startswith(b'{"items":[{') and gc.isenabled()

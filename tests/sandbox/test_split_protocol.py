"""The split-execution link's value encoding and framing (no sandbox needed)."""

from __future__ import annotations

import json
import math
import socket
import struct
from typing import Any

import pytest

from sandboxes.runner import _harness_split as split


def _no_handles(obj: Any) -> list[Any]:
    raise AssertionError(f"unexpected handle for {obj!r}")


def _roundtrip(value: Any) -> Any:
    wire = json.loads(json.dumps(split.encode(value, _no_handles)))
    return split.decode(wire, _no_handles)


VALUES = [None, True, False, 0, -7, 10**40, 2.5, -0.0, math.inf, "é\x00", b"\x00\xff", 1 + 2j,
          [1, [2]], (1, (2,)), {1: "a", (2, 3): [4]}, {1, 2}, frozenset({(1, 2)}), (), {}]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:20] for v in VALUES])
def test_values_cross_with_their_exact_types(value: Any) -> None:
    got = _roundtrip(value)
    assert got == value and type(got) is type(value)


def test_nan_crosses() -> None:
    assert math.isnan(_roundtrip(float("nan")))


def test_subclasses_are_reduced_to_their_base() -> None:
    class Sly(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class Loud(str):
        pass

    class MyList(list):  # type: ignore[type-arg]
        pass

    got = _roundtrip([Sly(3), Loud("x"), MyList([1])])
    assert [type(v) for v in got] == [int, str, list]
    assert got[0] != 4


@pytest.mark.parametrize("wire", [
    {"t": [1], "s": [2]},  # two tags
    {"x": [1]},  # unknown tag
    {"t": 1},  # body not a list
    {"b": "not base64!"},
    {"c": ["1", 2]},
    {"d": [[1]]},  # not a pair
    {"d": [[[1], 2]]},  # unhashable key
    {"h": "nope"},
])
def test_anything_off_the_encoding_is_refused(wire: Any) -> None:
    def resolve(desc: Any) -> Any:
        raise split.ProtocolError("bad handle")

    with pytest.raises((split.ProtocolError, ValueError, TypeError)):
        split.decode(wire, resolve)


@pytest.fixture
def sockets() -> Any:
    made: list[socket.socket] = []
    yield made
    for sock in made:
        sock.close()


def _link_pair(timeout: float, made: list[socket.socket]) -> tuple[split.Link, socket.socket]:
    mine, theirs = socket.socketpair()
    made += [mine, theirs]

    def serve(msg: dict[str, Any]) -> dict[str, Any]:
        raise split.ProtocolError("no requests here")

    return split.Link(mine, serve, timeout), theirs


def test_an_oversized_frame_breaks_the_link_not_the_judge(sockets: list[socket.socket]) -> None:
    link, other = _link_pair(2.0, sockets)
    other.sendall(struct.pack(">I", split.MAX_FRAME + 1))
    with pytest.raises(split.CandidateUnavailable, match="larger than"):
        link.request({"op": "getattr", "h": 1, "n": "x"})
    with pytest.raises(split.CandidateUnavailable):  # every later call fails at once
        link.request({"op": "getattr", "h": 1, "n": "x"})


def test_silence_times_out_and_a_reply_to_another_call_is_refused(
        sockets: list[socket.socket]) -> None:
    link, other = _link_pair(0.3, sockets)
    with pytest.raises(split.CandidateUnavailable, match="did not answer within 0.3 s"):
        link.request({"op": "getattr", "h": 1, "n": "x"})
    link, other = _link_pair(2.0, sockets)
    body = json.dumps({"re": 99, "v": 1}).encode()
    other.sendall(struct.pack(">I", len(body)) + body)
    with pytest.raises(split.CandidateUnavailable, match="reply to 99"):
        link.request({"op": "getattr", "h": 1, "n": "x"})


def test_the_judge_serves_only_calls_of_what_it_handed_out() -> None:
    with pytest.raises(split.ProtocolError):
        split._judge_serve({"op": "getattr", "h": 1, "n": "__globals__", "id": 1})  # noqa: SLF001
    with pytest.raises(split.ProtocolError):
        split._judge_serve({"op": "call", "h": 12345, "a": [], "k": {"d": []}, "id": 2})  # noqa: SLF001

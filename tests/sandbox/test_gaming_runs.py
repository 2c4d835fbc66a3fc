"""The behaviour-based gaming hints on real runs (issue 12 item 4): an answer table keyed
by the tested inputs passed unflagged before; now a passing run with one is
tamper_suspected, with the hint as the reason. Hidden tests never feed the hints."""

from __future__ import annotations

import pytest
from helpers.sandbox import BACKENDS, require_backend

from harness.runs import run_candidate
from sandboxes.base import Limits

TESTS = {"test_solution.py": "from solution import fib\n\n\n"
                             "def test_fib():\n    assert fib(10) == 55\n    assert fib(20) == 6765\n"}
TABLE = {"solution.py": "KNOWN = {10: 55, 20: 6765}\n\n\ndef fib(n):\n    return KNOWN[n]\n"}
HONEST = {"solution.py": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
                         "        a, b = b, a + b\n    return a\n"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_answer_table_makes_a_passing_run_suspect(backend: str) -> None:
    sandbox = require_backend(backend)
    result = run_candidate(TABLE, TESTS, Limits(), sandbox)
    assert result.status == "tamper_suspected", result
    assert [t.outcome for t in result.tests] == ["passed"]
    assert any("test-input-lookup" in r and "10 -> 55" in r for r in result.tamper)
    assert run_candidate(HONEST, TESTS, Limits(), sandbox).status == "passed"


def test_hidden_literals_never_feed_the_hints() -> None:
    """The same table keyed by hidden inputs: the reason would quote the hidden tests,
    so the hints look at the visible tests only (and the outcomes are marked hidden)."""
    sandbox = require_backend("bwrap")
    hidden = {"test_more.py": TESTS["test_solution.py"].replace("test_fib", "test_more")}
    visible = {"test_solution.py": "from solution import fib\n\n\n"
                                   "def test_small():\n    assert fib(1) == 1\n"}
    table = {"solution.py": TABLE["solution.py"].replace("KNOWN = {", "KNOWN = {1: 1, ")}
    result = run_candidate(table, {**visible, **hidden}, Limits(), sandbox,
                           hidden=list(hidden))
    assert result.status == "passed" and result.tamper == []
    assert {t.name: t.hidden for t in result.tests} == {
        "test_solution.py::test_small": False, "test_more.py::test_more": True}


def test_reading_its_own_data_file_stays_a_hint() -> None:
    """data-file-read is shown to annotators but does not make a passing run suspect:
    a candidate may keep honest data beside its code."""
    from harness.analysis import gaming_flags

    sandbox = require_backend("bwrap")
    files = {"solution.py": "import json, pathlib\n\n"
                            "PRIMES = json.loads((pathlib.Path(__file__).parent / 'primes.json')"
                            ".read_text())\n\n\ndef fib(n):\n    a, b = 0, 1\n"
                            "    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
             "primes.json": "[2, 3, 5, 7]"}
    assert {h.rule_id for h in gaming_flags(files, TESTS)} == {"data-file-read"}
    result = run_candidate(files, TESTS, Limits(), sandbox)
    assert result.status == "passed" and result.tamper == []

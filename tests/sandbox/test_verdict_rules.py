"""Verdict rules from the security review: skips, dynamically made tests, an erased report."""

from __future__ import annotations

import pytest
from helpers.sandbox import BACKENDS, GOOD, PASSING_TESTS, assert_clean, host_state, require_backend

from sandboxes import verdict
from sandboxes.base import Limits

LIMITS = Limits(wall_s=8)


def test_only_statically_marked_tests_may_be_skipped() -> None:
    src = ("import pytest, unittest\n\n"
           "@pytest.mark.skip(reason='x')\ndef test_skip():\n    pass\n\n"
           "@pytest.mark.skipif(True, reason='x')\ndef test_skipif():\n    pass\n\n"
           "@pytest.mark.xfail\ndef test_xfail():\n    pass\n\n"
           "@pytest.mark.parametrize('a', [1, pytest.param(2, marks=pytest.mark.xfail)])\n"
           "def test_param(a):\n    pass\n\n"
           "def test_plain():\n    pass\n\n"
           "@unittest.skip('x')\nclass TestK:\n    def test_m(self):\n        pass\n\n"
           "class TestL:\n    def test_n(self):\n        pass\n")
    exp = verdict.expected_tests({"test_s.py": src})
    assert exp.skippable == {"test_s.py::test_skip", "test_s.py::test_skipif",
                             "test_s.py::test_xfail", "test_s.py::test_param",
                             "test_s.py::TestK::test_m"}
    marked = verdict.expected_tests({"test_m.py": "import pytest\npytestmark = "
                                     "pytest.mark.skipif(False, reason='x')\n\n"
                                     "def test_a():\n    pass\n"})
    assert marked.skippable == {"test_m.py::test_a"}


def test_every_test_module_is_given_to_pytest_even_without_static_tests() -> None:
    exp = verdict.expected_tests({"test_a.py": "def test_x():\n    pass\n",
                                  "test_b.py": "from base import Base\n\n"
                                               "class TestB(Base):\n    pass\n",
                                  "base.py": "class Base:\n    def test_y(self):\n        pass\n",
                                  "conftest.py": ""})
    assert exp.tests == {"test_a.py": ["test_a.py::test_x"], "test_b.py": []}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["split", "in_process"])
def test_tests_skipped_by_the_candidate_fail(backend: str, mode: str) -> None:
    """In process the skip reaches pytest and is refused; split, the candidate's
    SkipTest is a stand-in class in the judge, not unittest's, so the test fails."""
    sb = require_backend(backend)
    before = host_state(sb)
    # Right where it is sure, skips the test it would fail.
    cand = {"solution.py": "import unittest\n\n"
                           "def add(a, b):\n    if a < 0:\n"
                           "        raise unittest.SkipTest('not today')\n    return a + b\n"}
    res = sb.run(cand, PASSING_TESTS, LIMITS, mode=mode)
    assert res.status == "failed", res.to_dict()
    assert [t.outcome for t in res.tests] == ["passed", "failed"]
    if mode == "in_process":
        assert "does not mark this test" in res.tests[1].message
    xfail = {"solution.py": "def add(a, b):\n    if a < 0:\n        import pytest\n"
                            "        pytest.xfail('no')\n    return a + b\n"}
    assert sb.run(xfail, PASSING_TESTS, LIMITS, mode=mode).status == "failed"
    tests = {"test_solution.py": PASSING_TESTS["test_solution.py"] + (
        "\n\nimport pytest\n\n\n@pytest.mark.skip(reason='later')\n"
        "def test_later():\n    assert False\n")}
    ok = sb.run(GOOD, tests, LIMITS, mode=mode)
    assert ok.status == "passed", ok.to_dict()
    assert [t.outcome for t in ok.tests] == ["passed", "passed", "skipped"]
    assert_clean(sb, before)


DYNAMIC_TESTS = {
    **PASSING_TESTS,
    "base.py": "from solution import add\n\n\nclass Base:\n"
               "    def test_neg(self):\n        assert add(-1, -1) == -2\n",
    "test_b.py": "from base import Base\nfrom solution import add\n\n\n"
                 "class TestB(Base):\n    pass\n\n\n"
                 "if True:\n    def test_more():\n        assert add(10, 5) == 15\n",
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_tests_the_static_scan_cannot_see_still_run(backend: str) -> None:
    sb = require_backend(backend)
    # Right for the statically found tests, wrong for the dynamic ones in test_b.py.
    cand = {"solution.py": "def add(a, b):\n    if a in (1, -1):\n        return a + b\n"
                           "    return 0\n"}
    res = sb.run(cand, DYNAMIC_TESTS, LIMITS)
    assert res.status == "failed", res.to_dict()
    assert {t.name: t.outcome for t in res.tests} == {
        "test_b.py::TestB::test_neg": "passed",
        "test_b.py::test_more": "failed",
        "test_solution.py::test_add": "passed",
        "test_solution.py::test_add_neg": "passed",
    }
    good = sb.run(GOOD, DYNAMIC_TESTS, LIMITS)
    assert good.status == "passed", good.to_dict()
    assert len(good.tests) == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trusted_file_that_never_reports_cannot_vanish(backend: str) -> None:
    sb = require_backend(backend)
    # Ends the process during collection of test_b.py: nothing of it is reported.
    tests = {**PASSING_TESTS, "test_b.py": "import os\nos._exit(0)\n"}
    res = sb.run(GOOD, tests, LIMITS)
    assert res.status == "failed", res.to_dict()
    assert ("test_b.py::<module>", "missing") in [(t.name, t.outcome) for t in res.tests]
    empty = sb.run(GOOD, {**PASSING_TESTS, "test_util.py": "X = 1\n"}, LIMITS)
    assert empty.status == "passed", empty.to_dict()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["split", "in_process"])
def test_an_erased_report_after_the_job_is_tampering(backend: str, mode: str) -> None:
    """Split, the candidate's sandbox has no report to erase: its tests just fail."""
    sb = require_backend(backend)
    before = host_state(sb)
    cand = {"solution.py": "import os, signal\n\n"
                           "def add(a, b):\n"
                           "    os.truncate('/results/report.json', 0)\n"
                           "    os.kill(os.getpid(), signal.SIGKILL)\n"}
    res = sb.run(cand, PASSING_TESTS, LIMITS, mode=mode)
    if mode == "split":
        assert res.status == "failed" and not res.tamper, res.to_dict()
        return
    assert res.status == "tamper_suspected", res.to_dict()
    assert res.tamper
    assert_clean(sb, before)

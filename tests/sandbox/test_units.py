"""Limits, results, refused names, expected tests and the report reader (no sandbox)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from sandboxes import image, verdict
from sandboxes.base import (
    Limits,
    RunResult,
    TestOutcome,
    check_relative_path,
    is_refused,
    refused_files,
)


def test_limits_defaults_match_the_issue() -> None:
    lim = Limits()
    assert (lim.wall_s, lim.memory_mb, lim.pids, lim.output_bytes, lim.disk_mb) == \
        (10.0, 512, 64, 1 << 20, 64)


def test_limits_key_is_stable_and_distinguishes() -> None:
    assert Limits().key() == Limits().key()
    assert Limits(wall_s=5).key() != Limits().key()
    assert Limits.from_dict({"memory_mb": 256}).key() == Limits(memory_mb=256).key()


@pytest.mark.parametrize(("data", "words"), [
    ({"wall": 3}, "unknown key(s) wall"),
    ({"memory_mb": "lots"}, "limits.memory_mb: expected a number"),
    ({"pids": 2}, "limits.pids: 2 is outside"),
    ({"memory_mb": 1.5}, "expected an integer"),
    ({"wall_s": True}, "expected a number"),
])
def test_limits_from_dict_rejects_bad_input_clearly(data: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Limits.from_dict(data)


def test_run_result_round_trips_through_json() -> None:
    r = RunResult(status="failed", exit_code=1, signal=None,
                  tests=[TestOutcome("t.py::test_a", "failed", 0.1, "boom")], wall_s=0.5,
                  cpu_s=0.2, peak_memory_bytes=1000, stdout="o", stderr="e",
                  stdout_truncated=False, stderr_truncated=True, backend="bwrap",
                  image="rootfs:x", isolation="full", tamper=["x"], error=None)
    again = RunResult.from_dict(json.loads(r.to_json()))
    assert again == r


@pytest.mark.parametrize("name", ["conftest.py", "pkg/conftest.py", "pytest.ini", "setup.cfg",
                                  "tox.ini", "sitecustomize.py", "usercustomize.py",
                                  "evil.pth", "pytest.py", "_pytest/runner.py"])
def test_runner_shadowing_files_are_refused(name: str) -> None:
    assert is_refused(name)


@pytest.mark.parametrize("name", ["solution.py", "pkg/util.py", "pyproject.toml", "README.md",
                                  "données/été.py", "模块.py", "x" * 250 + ".py"])
def test_ordinary_files_are_not_refused(name: str) -> None:
    assert check_relative_path(name) == name
    assert not is_refused(name)
    assert refused_files({name: ""}) == []


@pytest.mark.parametrize("name", ["/etc/passwd", "../x.py", "a/../../x.py", "", "a\\b.py",
                                  "./x.py", "a//b.py", " x.py", "~/x.py", "x\x00.py",
                                  "a\nb.py", "x\x1b[31m.py", "evil\u202eyp.py", "zero\u200bw.py",
                                  "sep\u2028.py", "x" * 256 + ".py", "a/" * 600 + "b.py"])
def test_file_names_must_stay_inside_the_work_dir(name: str) -> None:
    with pytest.raises(ValueError):
        check_relative_path(name)


@pytest.mark.parametrize("name", ["conftest.py", "pkg/conftest.py", ".pytest.ini",
                                  "_harness_runner.py", "x.pth", "pluggy/__init__.py"])
def test_the_gaming_rules_flag_every_file_the_sandbox_refuses(name: str) -> None:
    from harness.analysis.analyzers.gaming_rules import file_name_hints

    assert is_refused(name)
    hints = file_name_hints({name: ""}, {})
    assert [h.rule_id for h in hints] == ["runner-shadowing"]


def test_expected_tests_come_from_the_trusted_source_only() -> None:
    src = ("import pytest\n\n"
           "def test_a():\n    pass\n\n"
           "@pytest.mark.parametrize('x', [1, 2])\ndef test_b(x):\n    pass\n\n"
           "def helper():\n    pass\n\n"
           "class TestK:\n    def test_m(self):\n        pass\n    def other(self):\n"
           "        pass\n\n"
           "class TestWithInit:\n    def __init__(self):\n        pass\n"
           "    def test_never(self):\n        pass\n")
    exp = verdict.expected_tests({"test_s.py": src, "helpers.py": "def f():\n    pass\n"})
    assert exp.tests == {"test_s.py": ["test_s.py::test_a", "test_s.py::test_b",
                                 "test_s.py::TestK::test_m"]}


def _line(key: bytes, rec: dict) -> bytes:
    body = json.dumps(rec, sort_keys=True).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b" " + body + b"\n"


def test_missing_tests_fail_and_forged_lines_are_tampering() -> None:
    key = b"k" * 32
    data = (_line(key, {"kind": "start", "seq": 1})
            + _line(key, {"kind": "test", "seq": 2, "nodeid": "t.py::test_a", "when": "call",
                          "outcome": "passed", "duration": 0.1})
            + _line(key, {"kind": "end", "seq": 3, "exitstatus": 0}))
    expected = verdict.Expected({"t.py": ["t.py::test_a", "t.py::test_b"]})
    rep = verdict.parse_report(data, key)
    tests = verdict.outcomes(expected, rep)
    assert [t.outcome for t in tests] == ["passed", "missing"]
    assert verdict.decide(tests, rep)[0] == "failed"
    forged = data + b"0" * 64 + b' {"kind": "test", "seq": 4}\n'
    rep = verdict.parse_report(forged, key)
    assert verdict.decide(verdict.outcomes(expected, rep), rep)[0] == "tamper_suspected"


def test_exit_zero_with_no_outcomes_is_a_failure() -> None:
    key = b"k" * 32
    data = _line(key, {"kind": "start", "seq": 1}) + _line(key, {"kind": "end", "seq": 2,
                                                                  "exitstatus": 0})
    rep = verdict.parse_report(data, key)
    tests = verdict.outcomes(verdict.Expected({"t.py": ["t.py::test_a"]}), rep)
    assert verdict.decide(tests, rep)[0] == "failed"


def test_report_reader_never_follows_a_symlink(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("host secret")
    link = tmp_path / "report.json"
    link.symlink_to(secret)
    data, problem = verdict.read_report(link)
    assert data == b"" and problem == "results path is a symlink"


def test_report_reader_refuses_fifos_and_caps_size(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert verdict.read_report(fifo)[1] == "results path is not a regular file"
    big = tmp_path / "big"
    big.write_bytes(b"x" * 5000)
    data, problem = verdict.read_report(big, cap=1000)
    assert len(data) == 1000 and problem and "larger than" in problem


def test_content_version_depends_on_the_package_list(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.content_version()
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "python3-requests"))
    assert image.content_version() != before


def test_host_apt_sources_reads_deb822_and_one_line_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb http://mirror.invalid/debian bookworm main\n"
        "deb http://mirror.invalid/debian trixie main\n")
    (tmp_path / "sources.list.d" / "a.sources").write_text(
        "Types: deb\nURIs: http://other.invalid/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/k.gpg\n\n"
        "Types: deb\nURIs: http://off.invalid/\nSuites: bookworm\nComponents: main\n"
        "Enabled: no\n")
    (tmp_path / "sources.list.d" / "b.list.disabled").write_text(
        "deb http://x.invalid bookworm main\n")
    got = image.host_apt_sources("bookworm", root=tmp_path)
    assert got == [
        "deb http://mirror.invalid/debian bookworm main",
        "deb [signed-by=/usr/share/keyrings/k.gpg] http://other.invalid/debian bookworm main",
        "deb [signed-by=/usr/share/keyrings/k.gpg] http://other.invalid/debian "
        "bookworm-updates main",
    ]


def test_a_failing_test_the_static_scan_missed_fails_the_run() -> None:
    key = b"k" * 32
    data = (_line(key, {"kind": "start", "seq": 1})
            + _line(key, {"kind": "test", "seq": 2, "nodeid": "t.py::test_a", "when": "call",
                          "outcome": "passed"})
            + _line(key, {"kind": "test", "seq": 3, "nodeid": "t.py::TestSub::test_inherited",
                          "when": "call", "outcome": "failed"})
            + _line(key, {"kind": "end", "seq": 4, "exitstatus": 1}))
    rep = verdict.parse_report(data, key)
    tests = verdict.outcomes(verdict.Expected({"t.py": ["t.py::test_a"]}), rep)
    status, _ = verdict.decide(tests, rep)
    assert status == "failed"
    assert ("t.py::TestSub::test_inherited", "failed") in [(t.name, t.outcome) for t in tests]
    assert rep.tamper == []


def test_a_half_created_container_is_found_by_its_run_label() -> None:
    """create_container may fail after the engine made the container (a lost answer)."""
    from sandboxes.backends.docker import LABEL, remove_created

    class FakeApi:
        def __init__(self) -> None:
            self.removed: list[str] = []
            self.filters: list[dict] = []

        def containers(self, all: bool, filters: dict) -> list[dict]:  # noqa: A002
            self.filters.append(filters)
            return [{"Id": "abc123"}]

        def remove_container(self, cid: str, force: bool) -> None:
            assert force
            self.removed.append(cid)

    api = FakeApi()
    remove_created(api, "run42", None)
    assert api.filters == [{"label": f"{LABEL}.run=run42"}] and api.removed == ["abc123"]
    direct = FakeApi()
    remove_created(direct, "run43", "def456")
    assert direct.filters == [] and direct.removed == ["def456"]


def test_a_pool_keeps_spares_only_for_its_most_recent_limits_sets() -> None:
    """A worker that meets many projects' limits must not keep idle sandboxes for each
    one forever: spares of a limits set no longer among the recent ones are discarded."""
    from sandboxes.pool import WarmPool

    started: list[int] = []
    discarded: list[int] = []

    def start(limits: Limits) -> int:
        started.append(limits.memory_mb)
        return limits.memory_mb

    pool: WarmPool[int] = WarmPool(start, discarded.append, size=1, max_keys=2)
    try:
        for mb in (100, 200, 300, 400):
            assert pool.take(Limits(memory_mb=mb)) == mb
            pool.settle()
        assert pool.keys() == [Limits(memory_mb=mb).key() for mb in (300, 400)]
        assert sorted(pool.waiting()) == [300, 400]
        assert sorted(discarded) == [100, 200]  # the spares of the dropped sets
        pool.take(Limits(memory_mb=300))  # recent again: 400 is now the oldest
        pool.settle()
        pool.take(Limits(memory_mb=500))
        pool.settle()
        assert sorted(pool.waiting()) == [300, 500]
        assert sorted(discarded) == [100, 200, 400]
    finally:
        pool.close()

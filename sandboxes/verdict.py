"""Deciding a run's verdict outside the sandbox.

The expected tests come from parsing the trusted test files with `ast` on the
host, before anything runs: top-level `test*` functions and `test*` methods of
`Test*` classes without `__init__` (pytest's defaults). Nothing the candidate
does can remove from that list; items pytest collects from the trusted files
(tests made dynamically) are added to it. Parametrised tests are matched by
their base id (`file::test_x` covers `file::test_x[1]`, `file::test_x[2]`, ...).
A skip or xfail only counts as one where the trusted file declares it.

The report is read with O_NOFOLLOW and a size cap, and every line must carry a
valid HMAC under the run's key; anything else is tampering.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import hmac
import json
import os
import posixpath
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandboxes.base import DEFAULT_MODE, MODES, TestOutcome

REPORT_CAP = 4 << 20
_PARAM = re.compile(r"\[.*\]$", re.S)


_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")
_SKIP_WORDS = ("skip", "xfail", "expectedfailure")


def _marks_skip(decorators: list[ast.expr]) -> bool:
    """A decorator that can make pytest skip or xfail the test (pytest.mark.skip,
    skipif, xfail, unittest.skip*, expectedFailure, a parametrize case with such marks)."""
    return any(w in ast.unparse(d).lower() for d in decorators for w in _SKIP_WORDS)


def _module_skips(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets) \
                and any(w in ast.unparse(value).lower() for w in _SKIP_WORDS):
            return True
    return False


@dataclass
class Expected:
    """What the trusted test files promise before anything runs.

    `tests`: {test file: [expected test ids]} for every file pytest is given: each
    file named like a test module (test_*.py, *_test.py) and each other file that
    defines tests. A file may list no ids (its tests are made dynamically); it
    must then show up in the run (see `outcomes`).
    `skippable`: ids whose skip or xfail the trusted file declares statically;
    any other expected test that ends skipped or xfailed counts as failed.
    """

    tests: dict[str, list[str]] = field(default_factory=dict)
    skippable: set[str] = field(default_factory=set)


def expected_tests(test_files: Mapping[str, str]) -> Expected:
    """The expected tests of the trusted files, found by `ast` alone.

    A file that does not parse expects one test named after the file (so a
    broken trusted file is an error, never an empty pass).
    """
    out = Expected()
    for path, source in sorted(test_files.items()):
        if not path.endswith(".py") or posixpath.basename(path) == "conftest.py":
            continue
        try:
            tree = ast.parse(source, filename=path)
        except SyntaxError:
            out.tests[path] = [f"{path}::<module>"]
            continue
        ids: list[str] = []
        skippable: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and node.name.startswith("test"):
                ids.append(f"{path}::{node.name}")
                if _marks_skip(node.decorator_list):
                    skippable.add(ids[-1])
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                methods = [n for n in node.body
                           if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                if any(m.name == "__init__" for m in methods):
                    continue
                for m in methods:
                    if m.name.startswith("test"):
                        ids.append(f"{path}::{node.name}::{m.name}")
                        if _marks_skip(node.decorator_list + m.decorator_list):
                            skippable.add(ids[-1])
        if _module_skips(tree):
            skippable.update(ids)
        if ids or _TEST_FILE.match(posixpath.basename(path)):
            out.tests[path] = list(dict.fromkeys(ids))
            out.skippable |= skippable
    return out


EXECUTION_NAME = "harness_execution"


def execution_mode(test_files: Mapping[str, str], default: str = DEFAULT_MODE) -> str:
    """The mode the trusted tests ask for: `in_process` when a trusted test file says
    `harness_execution = "in_process"` at module level (tests that need the candidate's
    internals, e.g. monkeypatching its module), else `default`. Only the trusted
    files decide; the candidate cannot."""
    for path, source in sorted(test_files.items()):
        if not path.endswith(".py") or EXECUTION_NAME not in source:
            continue
        try:
            tree = ast.parse(source, filename=path)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == EXECUTION_NAME for t in node.targets) \
                    and isinstance(node.value, ast.Constant) and node.value.value in MODES:
                return str(node.value.value)
    return default


def read_report(path: Path, cap: int = REPORT_CAP) -> tuple[bytes, str | None]:
    """The report's bytes (at most `cap`), never following a symlink.

    Returns (data, problem); problem says why nothing trustworthy was read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return b"", "results path is a symlink"
        return b"", f"results file unreadable: {exc.strerror}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return b"", "results path is not a regular file"
        chunks: list[bytes] = []
        remaining = cap
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if remaining <= 0 and os.read(fd, 1):
            return data, f"results file larger than {cap} bytes"
        return data, None
    finally:
        os.close(fd)


@dataclass
class Report:
    started: bool = False
    ended: bool = False
    exitstatus: int | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    tamper: list[str] = field(default_factory=list)
    collected: list[str] | None = None  # item ids pytest collected, once collection ended


def parse_report(data: bytes, key: bytes) -> Report:
    rep = Report()
    expected_seq = 1
    bad = 0
    for raw in data.splitlines():
        mac, _, body = raw.partition(b" ")
        good = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(mac, good):
            bad += 1
            continue
        try:
            rec = json.loads(body)
        except ValueError:
            bad += 1
            continue
        if rec.get("seq") != expected_seq:
            rep.tamper.append("results records out of order or replayed")
            break
        expected_seq += 1
        kind = rec.get("kind")
        if kind == "start":
            rep.started = True
        elif kind in {"end", "done"}:
            rep.ended = True
            rep.exitstatus = rec.get("exitstatus")
        elif kind == "collected":
            items = rec.get("items")
            rep.collected = [str(i) for i in items] if isinstance(items, list) else []
        elif kind == "tamper":
            rep.tamper.append(str(rec.get("reason")))
        rep.records.append(rec)
    if bad:
        rep.tamper.append(f"{bad} line(s) in the results file not written by the runner")
    return rep


_RANK = {"missing": 5, "error": 4, "failed": 3, "passed": 1, "skipped": 0}


def _combine(a: str | None, b: str) -> str:
    if a is None:
        return b
    return a if _RANK[a] >= _RANK[b] else b


def _in_file(nodeid: str, path: str) -> bool:
    return nodeid.startswith(path + "::")


def outcomes(expected: Expected, report: Report) -> list[TestOutcome]:
    """One outcome per expected test; anything not reported is `missing`.

    Expected are the statically found ids plus every item pytest collected from a
    trusted file (tests made dynamically). A trusted file with neither must have
    been collected cleanly, else it stands as one `file::<module>` outcome
    (`error` for a collection error, `missing` when collection never finished).
    A skip or xfail counts as `failed` unless the trusted file declares it.
    """
    wanted = _wanted_ids(expected, report)
    collect_errors = _collect_errors(expected, report)
    for path, ids in wanted.items():
        if not ids and (path in collect_errors or report.collected is None):
            ids.append(f"{path}::<module>")
    per: dict[str, TestOutcome] = {}
    for path, message in collect_errors.items():
        for tid in wanted[path]:
            per[tid] = TestOutcome(tid, "error", None, message)
    all_ids = {tid for ids in wanted.values() for tid in ids}
    for rec in report.records:
        if rec.get("kind") != "test":
            continue
        base = _PARAM.sub("", str(rec.get("nodeid", "")))
        if base in all_ids:
            _add_record(per, base, rec, expected)
    return _in_file_order(wanted, per)


def _wanted_ids(expected: Expected, report: Report) -> dict[str, list[str]]:
    """Per trusted file, the test ids to account for: found statically, collected by
    pytest, or reported (parameters stripped: a parametrised test is one outcome)."""
    wanted: dict[str, list[str]] = {path: list(ids) for path, ids in expected.tests.items()}
    seen = [str(n) for n in report.collected or []]
    seen += [str(r.get("nodeid", "")) for r in report.records if r.get("kind") == "test"]
    for nodeid in seen:
        base = _PARAM.sub("", nodeid)
        for path, ids in wanted.items():
            if _in_file(base, path) and base not in ids:
                ids.append(base)
    return wanted


def _collect_errors(expected: Expected, report: Report) -> dict[str, str]:
    """The first collection error reported for each trusted file."""
    errors: dict[str, str] = {}
    for rec in report.records:
        if rec.get("kind") == "collect_error":
            nodeid = str(rec.get("nodeid", ""))
            for path in expected.tests:
                if nodeid in {"", path} or _in_file(nodeid, path):
                    errors.setdefault(path, str(rec.get("message", ""))[-500:])
    return errors


def _add_record(per: dict[str, TestOutcome], base: str, rec: dict[str, Any],
                expected: Expected) -> None:
    """Fold one reported phase (setup, call or teardown) into the test's outcome: the
    worst phase wins and durations add up."""
    when, raw = rec.get("when"), rec.get("outcome")
    if raw == "passed" and when != "call":
        return  # a passing setup or teardown says nothing on its own
    message = str(rec.get("message") or "")
    if raw == "skipped" and base in expected.skippable:
        value = "skipped"
    elif raw == "skipped":
        value = "failed"
        message = ("skipped or xfailed at run time, but the trusted test file does not "
                   "mark this test to be skipped")
    elif raw == "passed":
        value = "passed"
    else:
        value = "failed" if when == "call" else "error"
    prev = per.get(base)
    combined = _combine(prev.outcome if prev else None, value)
    duration = (prev.duration_s or 0.0 if prev else 0.0) + float(rec.get("duration") or 0)
    message = message or (prev.message if prev else "")
    per[base] = TestOutcome(base, combined, round(duration, 6), message[:500])


def _in_file_order(wanted: dict[str, list[str]],
                   per: dict[str, TestOutcome]) -> list[TestOutcome]:
    """Every wanted id in file order, `missing` where nothing was reported."""
    result = []
    for path in sorted(wanted):
        for tid in wanted[path]:
            if tid.endswith("::<module>") and tid not in per:
                per[tid] = TestOutcome(tid, "missing", None,
                                       "this test file was never collected")
            result.append(per.get(tid) or TestOutcome(tid, "missing", None,
                                                      "no outcome reported for this test"))
    return result


def decide(tests: list[TestOutcome], report: Report) -> tuple[str, str | None]:
    """(status, error) from the outcomes alone: passed, failed, error or tamper_suspected."""
    if report.tamper:
        return "tamper_suspected", None
    kinds = {t.outcome for t in tests}
    if not tests:
        return "failed", "the trusted test files define no tests"
    if kinds & {"failed", "missing"}:
        return "failed", None
    if "error" in kinds:
        return "error", "tests could not be collected or set up"
    if "passed" not in kinds:
        return "failed", "no test passed (all skipped)"
    if not report.ended:
        return "failed", "the runner did not finish (process exited before pytest did)"
    if report.exitstatus not in (0, None):
        wanted = {t.name for t in tests}
        others = [r for r in report.records if r.get("kind") == "test"
                  and r.get("outcome") == "failed"
                  and _PARAM.sub("", str(r.get("nodeid", ""))) not in wanted]
        if others:
            return "failed", f"{others[0].get('nodeid')} (not found by the static scan) failed"
        report.tamper.append(f"pytest exited with status {report.exitstatus} although every "
                             "reported test passed")
        return "tamper_suspected", None
    return "passed", None

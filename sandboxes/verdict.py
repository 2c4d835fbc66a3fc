"""Deciding a run's verdict outside the sandbox.

The expected tests come from parsing the trusted test files with `ast` on the
host, before anything runs: top-level `test*` functions and `test*` methods of
`Test*` classes without `__init__` (pytest's defaults). Nothing the candidate
does can add to or remove from that list. Parametrised tests are matched by
their base id (`file::test_x` covers `file::test_x[1]`, `file::test_x[2]`, ...).

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

from sandboxes.base import TestOutcome

REPORT_CAP = 4 << 20
_PARAM = re.compile(r"\[.*\]$", re.S)


def expected_tests(test_files: Mapping[str, str]) -> dict[str, list[str]]:
    """{test file: [expected test ids]} for files that define at least one test.

    A file that does not parse expects one test named after the file (so a
    broken trusted file is an error, never an empty pass).
    """
    out: dict[str, list[str]] = {}
    for path, source in sorted(test_files.items()):
        if not path.endswith(".py") or posixpath.basename(path) == "conftest.py":
            continue
        try:
            tree = ast.parse(source, filename=path)
        except SyntaxError:
            out[path] = [f"{path}::<module>"]
            continue
        ids: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and node.name.startswith("test"):
                ids.append(f"{path}::{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                methods = [n for n in node.body
                           if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                if any(m.name == "__init__" for m in methods):
                    continue
                ids += [f"{path}::{node.name}::{m.name}" for m in methods
                        if m.name.startswith("test")]
        if ids:
            out[path] = list(dict.fromkeys(ids))
    return out


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


def outcomes(expected: Mapping[str, list[str]], report: Report) -> list[TestOutcome]:
    """One outcome per expected test; anything not reported is `missing`."""
    per: dict[str, TestOutcome] = {}
    wanted = {tid for ids in expected.values() for tid in ids}
    for rec in report.records:
        kind = rec.get("kind")
        if kind == "collect_error":
            nodeid = str(rec.get("nodeid", ""))
            for path, ids in expected.items():
                if nodeid in {"", path} or nodeid.startswith(path + "::"):
                    for tid in ids:
                        if tid not in per or per[tid].outcome != "error":
                            per[tid] = TestOutcome(tid, "error", None,
                                                   str(rec.get("message", ""))[-500:])
            continue
        if kind != "test":
            continue
        base = _PARAM.sub("", str(rec.get("nodeid", "")))
        if base not in wanted:
            continue
        when, raw = rec.get("when"), rec.get("outcome")
        if raw == "passed" and when != "call":
            continue  # a passing setup or teardown says nothing on its own
        if raw == "skipped":
            value = "skipped"
        elif raw == "passed":
            value = "passed"
        else:
            value = "failed" if when == "call" else "error"
        prev = per.get(base)
        combined = _combine(prev.outcome if prev else None, value)
        duration = (prev.duration_s or 0.0 if prev else 0.0) + float(rec.get("duration") or 0)
        message = str(rec.get("message") or "") or (prev.message if prev else "")
        per[base] = TestOutcome(base, combined, round(duration, 6), message[:500])
    result = []
    for path in sorted(expected):
        for tid in expected[path]:
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

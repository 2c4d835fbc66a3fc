"""Our hints and metrics equal what the real bandit and radon command-line tools report.

One CLI call per tool over a directory holding every file (fast), compared file by file.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO

from harness.analysis import analyze_files, is_python_file

BIN = REPO / ".venv" / "bin"

# Beyond real model output: what the tools treat specially.
EXTRA: dict[str, str] = {
    "nosec.py": (
        "import subprocess  # nosec\n"
        "import pickle\n"
        "subprocess.call('ls', shell=True)  # nosec B602\n"
        "pickle.loads(b'')  # nosec: B999\n"
        "password = 'hunter2'\n"
        "eval(input())\n"
    ),
    "crlf.py": "import os\r\n\r\n# comment\r\ndef f(x):\r\n    '''doc'''\r\n"
               "    if x:\r\n        return os.system(x)\r\n    return 0\r\n",
    "classes.py": (
        "class A:\n"
        "    def m(self, x):\n"
        "        if x and x > 1 or x < -1:\n"
        "            return [i for i in range(x) if i % 2]\n"
        "        return None\n\n"
        "    class Inner:\n"
        "        def n(self):\n"
        "            def closure(y):\n"
        "                return y if y else -y\n"
        "            return closure\n\n"
        "async def g(a):\n"
        "    try:\n"
        "        assert a\n"
        "    except (ValueError, KeyError):\n"
        "        pass\n"
        "    while a:\n"
        "        a -= 1\n"
        "    return lambda: a\n"
    ),
    "multiline.py": (
        'import hashlib\nq = """\nSELECT * FROM t WHERE id = %s\n""" % (1,)\n'
        "h = hashlib.md5(b'x').hexdigest()\n"
        "x = [\n    1,\n    2,\n]\ntry:\n    pass\nexcept Exception:\n    pass\n"
    ),
    "syntax_error.py": "def f(:\n    return 1\n",
    "empty.py": "",
    "unicode.py": "# -*- coding: utf-8 -*-\nnaïve = 'café ☕'\nprint(naïve)\n",
    # radon's CLI fails on a UTF-8 byte-order mark (bandit does not); we give the
    # figures radon reports for the same file without the mark (bom_stripped.py).
    "bom.py": "\ufeffimport os\r\nos.system('ls')\r\n# done\r\n",
    "bom_stripped.py": "import os\r\nos.system('ls')\r\n# done\r\n",
    "pkg/sub/mod.py": "import yaml\nyaml.load('a: 1')\nimport requests\nrequests.get('http://x')\n",
}


def _cli(*args: str, cwd: Path) -> Any:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def _corpus(real_files: list[Any]) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(dir name, files, tests) for every real candidate/test set, plus the extra files."""
    out = [
        (f"c{i:04d}", c.files, c.tests)
        for i, c in enumerate(real_files)
    ]
    out.append(("extra", EXTRA, {}))
    return out


@pytest.fixture(scope="module")
def cli_and_ours(
    real_files: list[Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("equiv")
    src = work / "src"
    ours: dict[str, Any] = {}
    for name, files, tests in _corpus(real_files):
        result = analyze_files(files, tests=tests)
        for path, text in files.items():
            if not is_python_file(path):
                continue
            target = src / name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8", errors="replace"))
            rel = f"{name}/{path}"
            ours[rel] = {
                "hints": [h for h in result.hints if h.file_path == path],
                "metrics": result.metrics.get(path),
            }
    out = work / "bandit.json"
    _cli(str(BIN / "bandit"), "-r", str(src), "-f", "json", "-o", str(out), "-q", cwd=work)
    bandit = json.loads(out.read_text())
    radon = {
        cmd: json.loads(_cli(str(BIN / "radon"), cmd, "-j", str(src), cwd=work).stdout)
        for cmd in ("cc", "mi", "raw", "hal")
    }

    def rel(p: str) -> str:
        return Path(p).resolve().relative_to(src.resolve()).as_posix()

    return {
        "ours": ours,
        "bandit_results": [dict(r, filename=rel(r["filename"])) for r in bandit["results"]],
        "bandit_errors": {rel(e["filename"]): e["reason"] for e in bandit["errors"]},
        "radon": {cmd: {rel(k): v for k, v in data.items()} for cmd, data in radon.items()},
    }


def test_corpus_covers_realdata_and_demo(real_files: list[Any]) -> None:
    sources = Counter(c.source for c in real_files)
    assert sources["realdata"] >= 118 + 54
    assert sources["demo"] > 0, "examples/demo/tasks.jsonl is missing or empty"


def test_bandit_issues_equal_the_cli(cli_and_ours: dict[str, Any]) -> None:
    expected: dict[str, Counter[tuple[Any, ...]]] = {}
    for r in cli_and_ours["bandit_results"]:
        expected.setdefault(r["filename"], Counter())[
            (
                r["test_id"],
                r["line_number"],
                max(r["line_range"]),
                r["issue_severity"],
                r["issue_confidence"],
                r["issue_cwe"].get("id"),
            )
        ] += 1
    mismatches = []
    for rel, ours in cli_and_ours["ours"].items():
        got = Counter(
            (h.rule_id, h.line_start, h.line_end, h.severity.upper(),
             (h.confidence or "").upper(), h.cwe)
            for h in ours["hints"]
            if h.analyzer == "bandit"
        )
        if got != expected.get(rel, Counter()):
            mismatches.append((rel, sorted(got), sorted(expected.get(rel, Counter()))))
    assert not mismatches, mismatches[:5]
    assert sum(expected.values(), Counter()), "the corpus should give bandit something to find"
    assert set(expected) <= set(cli_and_ours["ours"])


RADON_BOM_ERROR = "invalid non-printable character U+FEFF"


def test_unparseable_files_are_the_ones_the_cli_skips(cli_and_ours: dict[str, Any]) -> None:
    ours = {
        rel for rel, o in cli_and_ours["ours"].items()
        if any(h.rule_id == "syntax-error" for h in o["hints"])
    }
    radon_errors = {
        rel for rel, v in cli_and_ours["radon"]["cc"].items()
        if "error" in v and RADON_BOM_ERROR not in v["error"]
    }
    assert ours == set(cli_and_ours["bandit_errors"]) == radon_errors, cli_and_ours["bandit_errors"]
    assert "extra/syntax_error.py" in ours
    assert RADON_BOM_ERROR in cli_and_ours["radon"]["cc"]["extra/bom.py"]["error"]
    assert cli_and_ours["ours"]["extra/bom.py"]["metrics"] == (
        cli_and_ours["ours"]["extra/bom_stripped.py"]["metrics"]
    )


def _radon(cli_and_ours: dict[str, Any], cmd: str, rel: str) -> Any:
    """What radon's CLI says about rel (for a BOM file: about the same file without it)."""
    if rel == "extra/bom.py":
        rel = "extra/bom_stripped.py"
    if cmd == "cc":  # `radon cc -j` leaves out files without functions or classes
        return cli_and_ours["radon"][cmd].get(rel, [])
    return cli_and_ours["radon"][cmd][rel]


def test_radon_cc_per_function_equals_the_cli(cli_and_ours: dict[str, Any]) -> None:
    mismatches = []
    checked = 0
    for rel, ours in cli_and_ours["ours"].items():
        blocks = _radon(cli_and_ours, "cc", rel)
        if "error" in blocks:
            assert ours["metrics"] is None, (rel, blocks)
            continue
        expected = sorted(
            (b["name"], b.get("classname"), b["lineno"], b["endline"], b["complexity"], b["rank"])
            for b in blocks
            if b["type"] in ("function", "method")
        )
        got = sorted(
            (f["name"], f["classname"], f["lineno"], f["endline"], f["cc"], f["rank"])
            for f in ours["metrics"]["functions"]
        )
        checked += len(got)
        if got != expected:
            mismatches.append((rel, got, expected))
    assert not mismatches, mismatches[:5]
    assert checked > 150


def test_radon_mi_raw_and_halstead_equal_the_cli(cli_and_ours: dict[str, Any]) -> None:
    mismatches = []
    for rel, ours in cli_and_ours["ours"].items():
        m = ours["metrics"]
        mi, raw = _radon(cli_and_ours, "mi", rel), _radon(cli_and_ours, "raw", rel)
        if m is None:
            assert "error" in mi and "error" in raw
            continue
        hal = _radon(cli_and_ours, "hal", rel)["total"]
        expected = {
            "mi": mi["mi"], "mi_rank": mi["rank"],
            **{k: raw[k] for k in ("loc", "lloc", "sloc", "comments", "multi", "blank",
                                   "single_comments")},
            "halstead_volume": hal["volume"], "halstead_difficulty": hal["difficulty"],
        }
        got = {k: m[k] for k in expected}
        if got != expected:
            mismatches.append((rel, got, expected))
    assert not mismatches, mismatches[:5]

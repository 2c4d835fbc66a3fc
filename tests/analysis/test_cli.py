"""`harness hints` prints what the library computes; `harness analyze` fills the cache."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner
from helpers import REPO

from harness.analysis import analyze_files
from harness.cli import main
from harness.taskfile import files_hash


def _write(tmp_path: Path) -> dict[str, str]:
    files = {
        "solution.py": "import subprocess\n\ndef run(cmd):\n"
                       "    return subprocess.call(cmd, shell=True)\n",
        "helpers/util.py": "import sys\n\ndef stop():\n    sys.exit(1)\n",
        "conftest.py": "",
    }
    for rel, text in files.items():
        (tmp_path / "cand" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cand" / rel).write_text(text, encoding="utf-8")
    return files


def test_hints_json_matches_the_library(tmp_path: Path) -> None:
    files = _write(tmp_path)
    result = CliRunner().invoke(main, ["hints", str(tmp_path / "cand"), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == json.loads(json.dumps(analyze_files(files).to_dict()))
    rules = {(h["file_path"], h["rule_id"]) for h in printed["hints"]}
    assert {("solution.py", "B602"), ("helpers/util.py", "exit-call"),
            ("conftest.py", "runner-shadowing")} <= rules


def test_hints_of_single_files_keep_the_path_given(tmp_path: Path) -> None:
    _write(tmp_path)
    target = tmp_path / "cand" / "solution.py"
    result = CliRunner().invoke(main, ["hints", str(target)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert any(
        line.startswith(f"{target.as_posix()}:4: high bandit B602 ") and "CWE-78" in line
        for line in lines
    )
    assert lines[-1].startswith("2 hint(s); bandit 1 high / 0 medium / 1 low")


def test_hints_runs_as_a_real_command_with_a_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n", encoding="utf-8")
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "harness"), "hints", str(bad), "--json"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    hints = json.loads(proc.stdout)["hints"]
    assert [h["message"] for h in hints] == ["syntax error at line 1: invalid syntax"]


def test_hints_bad_input_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["hints", str(tmp_path / "nope.py")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\xff\xfe\x00")
    result = runner.invoke(main, ["hints", str(binary)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {binary}: not UTF-8 text (invalid start byte at byte 0)"
    assert runner.invoke(main, ["hints"]).exit_code == 2


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "harness"), *args],
        env=env, capture_output=True, text=True, timeout=300,
    )


def test_analyze_project_uses_the_cache_and_force_recomputes(tmp_path: Path) -> None:
    import os
    import sqlite3

    from helpers import RUBRIC  # tests/ is on pythonpath

    env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data")}
    demo = REPO / "examples" / "demo" / "tasks.jsonl"
    spec = tmp_path / "p.yaml"
    spec.write_text(f"name: P\nslug: p\nrubric: {json.dumps(str(RUBRIC))}\n", encoding="utf-8")
    for args in (("init",), ("project", "create", str(spec)), ("import", "p", str(demo))):
        proc = _run(env, *args)
        assert proc.returncode == 0, (args, proc.stderr)

    candidates = [
        c
        for line in demo.read_text(encoding="utf-8").splitlines() if line.strip()
        for c in json.loads(line)["candidates"]
    ]
    distinct = {files_hash(c["files"]) for c in candidates}
    cached = _run(env, "analyze", "p")  # import analysed them already
    assert cached.returncode == 0, cached.stderr
    assert f"{len(candidates)} candidate(s), 0 analysed" in cached.stdout
    forced = _run(env, "analyze", "p", "--force")
    assert forced.returncode == 0, forced.stderr
    assert f", {len(distinct)} analysed" in forced.stdout

    db = sqlite3.connect(tmp_path / "data" / "harness.db")
    rows = db.execute("SELECT content_hash, hints FROM analyses").fetchall()
    db.close()
    assert {h for h, _ in rows} == distinct
    assert any("B608" in hints for _, hints in rows)

    missing = _run(env, "analyze", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: no project 'nope'"

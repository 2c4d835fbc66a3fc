"""No sandbox image built: an infrastructure fault, never blamed on the candidate.

The `harness` command line is run for real, with HARNESS_SANDBOX_DIR pointing
at an empty directory (no rootfs). bwrap then has only the host's system dirs,
whose Python has no pytest: every run must say what is missing and how to
build it, as `sandbox_error` (or a refusal to start), never `tamper_suspected`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO as REPO_ROOT
from helpers.sandbox import GOOD, PASSING_TESTS

from harness.runs.execute import check_backend
from harness.settings import Settings

HARNESS = str(Path(sys.executable).parent / "harness")
HOW = "harness sandbox build --offline"

pytestmark = pytest.mark.bwrap


def _env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "no-sandbox"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data"),
            "HARNESS_SANDBOX_DIR": str(empty), "HARNESS_SANDBOX": "bwrap"}


def _host_python_has_pytest() -> bool:
    return subprocess.run(["/usr/bin/python3", "-I", "-c", "import pytest"],
                          capture_output=True, check=False).returncode == 0


def _tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_sandbox_run_of_an_honest_candidate_says_how_to_build(tmp_path: Path) -> None:
    if _host_python_has_pytest():
        pytest.skip("the host's python3 has pytest: bwrap runs on the host's system dirs")
    proc = subprocess.run(
        [HARNESS, "sandbox", "run", "--candidate", str(_tree(tmp_path / "c", GOOD)),
         "--tests", str(_tree(tmp_path / "t", PASSING_TESTS)), "--backend", "bwrap"],
        cwd=REPO_ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["status"] == "sandbox_error", out
    assert out["tamper"] == []
    assert HOW in out["error"] and "pytest" in out["error"], out["error"]


def test_worker_refuses_to_start_and_says_how_to_build(tmp_path: Path) -> None:
    if _host_python_has_pytest():
        pytest.skip("the host's python3 has pytest: bwrap runs on the host's system dirs")
    proc = subprocess.run([HARNESS, "worker"], cwd=REPO_ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert HOW in proc.stderr, proc.stderr[-2000:]


def test_the_servers_backend_check_says_how_to_build(tmp_path: Path) -> None:
    """`harness serve` starts its worker only when this check passes, and logs the detail."""
    if _host_python_has_pytest():
        pytest.skip("the host's python3 has pytest: bwrap runs on the host's system dirs")
    env = _env(tmp_path)
    settings = Settings.from_env({k: env[k] for k in (
        "HARNESS_DATA_DIR", "HARNESS_SANDBOX_DIR", "HARNESS_SANDBOX")})
    _backend, ok, detail = check_backend(settings)
    assert not ok
    assert HOW in detail and "tamper" not in detail, detail

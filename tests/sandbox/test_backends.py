"""Both backends for real: verdicts, per-test outcomes, refused files, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.sandbox import (
    BACKENDS,
    BAD,
    GOOD,
    PASSING_TESTS,
    assert_clean,
    host_state,
    require_backend,
    sandbox_dir,
)

from harness.cli import main
from harness.runs import run_candidate
from sandboxes.base import Limits

LIMITS = Limits(wall_s=8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_correct_candidate_passes_and_a_wrong_one_fails(backend: str) -> None:
    sb = require_backend(backend)
    before = host_state(sb)
    good = sb.run(GOOD, PASSING_TESTS, LIMITS)
    assert good.status == "passed", good.to_dict()
    assert [(t.name, t.outcome) for t in good.tests] == [
        ("test_solution.py::test_add", "passed"), ("test_solution.py::test_add_neg", "passed")]
    assert good.backend == backend and good.isolation == "full" and good.exit_code == 0
    assert good.image and good.wall_s > 0 and good.cpu_s is not None
    bad = sb.run(BAD, PASSING_TESTS, LIMITS)
    assert bad.status == "failed"
    assert {t.outcome for t in bad.tests} == {"failed"}
    assert "assert -1 == 3" in bad.tests[0].message
    assert_clean(sb, before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_expected_test_needs_an_outcome(backend: str) -> None:
    sb = require_backend(backend)
    tests = {"test_solution.py": (
        "import pytest\nfrom solution import add\n\n\n"
        "@pytest.mark.parametrize('a', [1, 2, 3])\ndef test_param(a):\n"
        "    assert add(a, 0) == a\n\n\n"
        "def test_quits():\n    import os\n    os._exit(0)\n\n\n"
        "def test_after():\n    assert True\n")}
    res = sb.run(GOOD, tests, LIMITS)
    assert res.status == "failed"
    assert {t.name: t.outcome for t in res.tests} == {
        "test_solution.py::test_param": "passed",
        "test_solution.py::test_quits": "missing",
        "test_solution.py::test_after": "missing",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_skips_and_helper_modules_in_the_trusted_tests(backend: str) -> None:
    sb = require_backend(backend)
    tests = {"test_solution.py": "import pytest\nfrom helper import twice\nfrom solution import add"
                                 "\n\n\ndef test_twice():\n    assert twice(add(1, 1)) == 4\n\n\n"
                                 "@pytest.mark.skip(reason='not today')\ndef test_skip():\n"
                                 "    assert False\n",
             "helper.py": "def twice(x):\n    return 2 * x\n"}
    res = sb.run(GOOD, tests, LIMITS)
    assert res.status == "passed", res.to_dict()
    assert {t.name: t.outcome for t in res.tests} == {
        "test_solution.py::test_twice": "passed", "test_solution.py::test_skip": "skipped"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_planted_symlink_at_the_results_path_reads_no_host_file(backend: str) -> None:
    sb = require_backend(backend)
    cand = {"solution.py": (
        "import os\n"
        "for target in ('/results/report.json', '/results/x'):\n"
        "    try:\n        os.unlink(target)\n    except OSError:\n        pass\n"
        "    try:\n        os.symlink('/etc/passwd', target)\n    except OSError:\n"
        "        pass\n"
        "def add(a, b):\n    return a + b\n")}
    res = sb.run(cand, PASSING_TESTS, LIMITS)
    assert res.status == "passed", res.to_dict()
    assert "root:x:0:0" not in json.dumps(res.to_dict())


@pytest.mark.parametrize("backend", BACKENDS)
def test_refused_files_are_not_run(backend: str) -> None:
    sb = require_backend(backend)
    before = host_state(sb)
    res = run_candidate({**GOOD, "conftest.py": "", "x.pth": "import os"}, PASSING_TESTS,
                        LIMITS, sb)
    assert res.status == "tamper_suspected"
    assert res.tamper == ["refused file conftest.py", "refused file x.pth"]
    assert res.tests == [] and res.exit_code is None
    assert_clean(sb, before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_run_prints_one_json_object(backend: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    require_backend(backend)
    (tmp_path / "c").mkdir()
    (tmp_path / "t").mkdir()
    (tmp_path / "c" / "solution.py").write_text(BAD["solution.py"])
    (tmp_path / "t" / "test_solution.py").write_text(PASSING_TESTS["test_solution.py"])
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HARNESS_SANDBOX_DIR", str(sandbox_dir()))
    from harness.cli import common

    common.settings.cache_clear()
    result = CliRunner().invoke(main, ["sandbox", "run", "--candidate", str(tmp_path / "c"),
                                       "--tests", str(tmp_path / "t"), "--backend", backend,
                                       "--timeout", "6", "--memory", "256"])
    common.settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["status"] == "failed" and out["backend"] == backend
    assert [t["outcome"] for t in out["tests"]] == ["failed", "failed"]


def test_cli_run_rejects_bad_limits_with_one_line(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "solution.py").write_text("")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    from harness.cli import common

    common.settings.cache_clear()
    result = CliRunner().invoke(main, ["sandbox", "run", "--candidate", str(tmp_path / "c"),
                                       "--tests", str(tmp_path / "c"), "--memory", "1"])
    common.settings.cache_clear()
    assert result.exit_code == 1
    assert "limits.memory_mb: 1 is outside" in result.output


@pytest.mark.docker
@pytest.mark.bwrap
def test_cli_check_reports_both_backends(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    require_backend("docker")
    require_backend("bwrap")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HARNESS_SANDBOX_DIR", str(sandbox_dir()))
    from harness.cli import common

    common.settings.cache_clear()
    result = CliRunner().invoke(main, ["sandbox", "check", "--json"])
    common.settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["auto"] == "docker"
    assert out["backends"]["bwrap"]["ok"] and "isolation full" in out["backends"]["bwrap"][
        "detail"]
    assert out["backends"]["docker"]["ok"]


@pytest.mark.bwrap
@pytest.mark.parametrize("mode", ["split", "in_process"])
def test_bwrap_without_a_cgroup_runs_degraded(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    from helpers.sandbox import config

    from sandboxes import cgroups
    from sandboxes.backends.bwrap import BwrapSandbox
    from sandboxes.base import close_backends

    require_backend("bwrap")

    def no_cgroup(*args: object) -> None:
        raise OSError("no cgroup here")

    # RLIMIT_NPROC counts every process of the sandbox's uid on the host: the spares
    # other tests' backends keep started ahead of need must not count against it
    close_backends()
    monkeypatch.setattr(cgroups, "create", no_cgroup)
    sb = BwrapSandbox(config(), pool_size=0)
    good = sb.run(GOOD, PASSING_TESTS, LIMITS, mode=mode)
    assert good.status == "passed" and good.isolation == "degraded"
    hog = {"solution.py": "def add(a, b):\n    x = bytearray(2 << 30)\n    return a + b\n"}
    # MemoryError, not the host
    assert sb.run(hog, PASSING_TESTS, LIMITS, mode=mode).status == "failed"
    slow = {"solution.py": "def add(a, b):\n    while True:\n        pass\n"}
    res = sb.run(slow, PASSING_TESTS, Limits(wall_s=2), mode=mode)
    # Split, the call into the candidate times out first and fails the waiting test.
    assert res.status == ("failed" if mode == "split" else "timeout")
    assert res.isolation == "degraded"


@pytest.mark.parametrize("backend", BACKENDS)
def test_file_names_outside_the_work_dir_are_refused(backend: str, tmp_path: Path) -> None:
    sb = require_backend(backend)
    before = host_state(sb)
    res = run_candidate({**GOOD, "../../escape.py": "x = 1\n"}, PASSING_TESTS, LIMITS, sb)
    assert res.status == "tamper_suspected"
    assert res.tamper == ["refused file name '../../escape.py' (outside the work dir)"]
    direct = sb.run({**GOOD, "/etc/escape.py": "x = 1\n"}, PASSING_TESTS, LIMITS)
    assert direct.status == "sandbox_error" and "must be relative" in (direct.error or "")
    assert not Path("/etc/escape.py").exists()
    assert_clean(sb, before)


@pytest.mark.bwrap
def test_bwrap_without_a_cgroup_still_caps_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.sandbox import config

    from sandboxes import cgroups
    from sandboxes.backends.bwrap import BwrapSandbox
    from sandboxes.base import close_backends

    require_backend("bwrap")

    def no_cgroup(*args: object) -> None:
        raise OSError("no cgroup here")

    # RLIMIT_NPROC counts every process of the sandbox's uid on the host: the spares
    # other tests' backends keep started ahead of need must not count against it
    close_backends()
    monkeypatch.setattr(cgroups, "create", no_cgroup)
    sb = BwrapSandbox(config(), pool_size=0)
    before = host_state(sb)
    forks = {"solution.py": (
        "import os, time\n\ndef add(a, b):\n    kids = []\n    try:\n"
        "        for _ in range(200):\n            pid = os.fork()\n            if pid == 0:\n"
        "                time.sleep(5)\n                os._exit(0)\n"
        "            kids.append(pid)\n    except OSError:\n        pass\n"
        "    for pid in kids:\n        os.kill(pid, 9)\n        os.waitpid(pid, 0)\n"
        "    assert len(kids) < 32, len(kids)\n    return a + b\n")}
    # In process: RLIMIT_NPROC counts every process of the sandbox's uid on the host,
    # so a split run's second uid and a busy host make an exact figure meaningless.
    res = sb.run(forks, PASSING_TESTS, Limits(wall_s=8, pids=32), mode="in_process")
    assert res.status == "passed" and res.isolation == "degraded", (res.error, res.stderr[-800:])
    assert_clean(sb, before)

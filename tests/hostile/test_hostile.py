"""Hostile candidates against both backends, for real.

Each case asserts the run's status, that nothing of the run (process,
container, cgroup, staging dir) is left on the host, and that the harness
still runs a good candidate afterwards. Only loopback is ever addressed.
"""

from __future__ import annotations

import base64
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.sandbox import (
    BACKENDS,
    GOOD,
    PASSING_TESTS,
    assert_clean,
    host_state,
    require_backend,
)

from harness.runs import run_candidate
from sandboxes.base import Limits, RunResult, Sandbox, shared_backends

LIMITS = Limits(wall_s=4, memory_mb=256, pids=64, output_bytes=1 << 20, disk_mb=64)
TEST_RUN = "from solution import run\n\n\ndef test_run():\n    assert run() is None\n"
TEST_OK = "from solution import run\n\n\ndef test_run():\n    run()\n"

# Writes to every pipe the process holds: pytest's capture redirects fd 1 and 2,
# the real output pipes survive as duplicates.
# Finds the runner's reporter through the garbage collector and writes a full,
# correctly signed passing report with it, then ends the process before pytest
# reports the real failure. Hidden in base64 so no name in it is visible to a scan.
FORGER_SOURCE = """
import gc, os
def _forge():
    for obj in gc.get_objects():
        try:
            attrs = object.__getattribute__(obj, '__dict__')
        except Exception:
            continue
        write = attrs.get('_write') if isinstance(attrs, dict) else None
        if not callable(write):
            continue
        nodeid = 'test_solution.py::test_run'
        for when in ('setup', 'call', 'teardown'):
            write('test', nodeid=nodeid, when=when, outcome='passed', xfail=False,
                  raised=None, duration=0.001, message='')
        write('end', exitstatus=0)
        write('done', exitstatus=0, runner_s=0.1, cpu_s=0.1, maxrss=1)
        os._exit(0)
_forge()
"""
FORGER = ("import base64\nexec(base64.b64decode("
          f"{base64.b64encode(FORGER_SOURCE.encode()).decode()!r}).decode())\n"
          "def run():\n    return 1\n")

FLOOD_FDS = """
import os, stat
def pipes():
    out = []
    for fd in range(1, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISSOCK(os.fstat(fd).st_mode):
                out.append(fd)
        except OSError:
            pass
    return out
"""


@dataclass
class Case:
    name: str
    solution: str
    expect: set[str]
    tests: str = TEST_RUN
    max_wall: float | None = None
    extra_files: dict[str, str] = field(default_factory=dict)
    via_harness: bool = False  # through run_candidate (refusal, gaming hints)
    # What split execution gives, where it differs: the candidate's own process takes
    # the blow (killed, flooded, patched) and the judge reports its tests failed.
    split: set[str] | None = None

    def expected(self, mode: str) -> set[str]:
        return self.split if mode == "split" and self.split is not None else self.expect


CASES = [
    Case("busy_loop", "def run():\n    while True:\n        pass\n", {"timeout"}),
    Case("sleep_forever", "import time\ndef run():\n    time.sleep(10**6)\n", {"timeout"}),
    Case("fork_bomb", "import os\ndef run():\n    while True:\n        try:\n"
                      "            os.fork()\n        except OSError:\n            pass\n",
         {"timeout"}),
    Case("thread_bomb", "import threading, time\ndef run():\n    while True:\n"
                        "        threading.Thread(target=time.sleep, args=(1000,)).start()\n",
         {"failed"}, max_wall=3.9),
    Case("memory_bomb", "def run():\n    hog = []\n    while True:\n"
                        "        hog.append(bytearray(32 * 1024 * 1024))\n", {"oom"}, split={"failed", "oom"}),
    Case("many_procs_over_total",
         "import os, time\ndef run():\n    kids = []\n    for _ in range(12):\n"
         "        pid = os.fork()\n        if pid == 0:\n"
         "            b = bytearray(40 * 1024 * 1024)\n            time.sleep(30)\n"
         "            os._exit(0)\n        kids.append(pid)\n"
         "    for pid in kids:\n        os.waitpid(pid, 0)\n", {"oom"}),
    Case("stdout_flood", FLOOD_FDS + "def run():\n    chunk = b'x' * 65536 + b'\\n'\n"
                                     "    while True:\n        for fd in pipes():\n"
                                     "            try:\n                os.write(fd, chunk)\n"
                                     "            except OSError:\n                pass\n",
         {"output_limit"}, split={"failed"}),
    Case("huge_line", FLOOD_FDS + "def run():\n    line = b'y' * (8 << 20)\n"
                                  "    for fd in pipes():\n        try:\n"
                                  "            os.write(fd, line)\n"
                                  "        except OSError:\n            pass\n",
         {"output_limit"}, split={"failed"}),
    Case("print_flood", "def run():\n    while True:\n        print('z' * 10000)\n",
         {"output_limit"}, split={"failed"}),
    Case("disk_fill", "import os\ndef run():\n    n = 0\n    while True:\n"
                      "        with open(f'/work/fill{n}', 'wb') as f:\n"
                      "            f.write(b'0' * (8 << 20))\n        n += 1\n", {"failed"}),
    Case("disk_fill_tmp", "import os\ndef run():\n    n = 0\n    while True:\n"
                          "        with open(f'/tmp/fill{n}', 'wb') as f:\n"
                          "            f.write(b'0' * (1 << 20))\n        n += 1\n", {"failed"}),
    Case("file_size_limit", "def run():\n    with open('/work/big', 'wb') as f:\n"
                            "        for _ in range(40):\n"
                            "            f.write(b'0' * (1 << 20))\n", {"failed"}),
    Case("many_small_files",
         "import os, time\ndef run():\n    end = time.time() + 1.5\n    n = 0\n"
         "    try:\n        while time.time() < end:\n"
         "            open(f'/work/f{n}', 'w').close()\n            n += 1\n"
         "    except OSError:\n        pass\n    assert n > 100\n", {"passed"}, TEST_OK),
    Case("emfile", "import errno\ndef run():\n    held = []\n    try:\n        while True:\n"
                   "            held.append(open('/in/pytest.ini'))\n    except OSError as e:\n"
                   "        assert e.errno == errno.EMFILE and len(held) < 300\n",
         {"passed"}, TEST_OK),
    Case("setsid_daemon",
         "import os, time\ndef run():\n    if os.fork() == 0:\n        os.setsid()\n"
         "        if os.fork() == 0:\n            while True:\n                time.sleep(1)\n"
         "        os._exit(0)\n    time.sleep(0.1)\n", {"passed"}, TEST_OK, max_wall=3.5),
    Case("grandchild_holds_stdout",
         "import os, subprocess, sys\ndef run():\n"
         "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)'],"
         " stdout=sys.__stdout__, stderr=sys.__stderr__, start_new_session=True)\n",
         {"passed"}, TEST_OK, max_wall=3.5),
    Case("sigterm_ignored", "import signal, time\ndef run():\n"
                            "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                            "    while True:\n        time.sleep(1)\n", {"timeout"}),
    Case("alarm_cancelled", "import signal\ndef run():\n    signal.alarm(0)\n"
                            "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                            "    while True:\n        pass\n", {"timeout"}),
    Case("kill_parent", "import os\ndef run():\n    os.kill(os.getppid(), 9)\n"
                        "    import time\n    time.sleep(0.5)\n", {"passed"}),
    Case("kill_all", "import os, time\ndef run():\n    try:\n        os.kill(-1, 9)\n"
                     "    except OSError:\n        pass\n    time.sleep(0.2)\n",
         {"passed"}),
    Case("reboot", "import ctypes, ctypes.util\ndef run():\n"
                   "    libc = ctypes.CDLL(None, use_errno=True)\n"
                   "    assert libc.reboot(0) == -1\n", {"passed"}, TEST_OK),
    Case("setuid_root", "import os\ndef run():\n    try:\n        os.setuid(0)\n"
                        "    except OSError:\n        return\n"
                        "    raise AssertionError('became root')\n", {"passed"}, TEST_OK),
    # Only the sandbox's own processes are visible, so only they can be traced;
    # PTRACE_SEIZE does not stop them.
    Case("ptrace", "import ctypes, os\ndef run():\n"
                   "    libc = ctypes.CDLL(None, use_errno=True)\n"
                   "    pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
                   "    assert len(pids) < 8, pids\n"
                   "    for pid in pids:\n        if pid != os.getpid():\n"
                   "            libc.ptrace(0x4206, pid, 0, 0)\n", {"passed"}, TEST_OK),
    Case("write_outside_workdir",
         "import os\ndef run():\n"
         "    for path in ('/escape', '/usr/escape', '/in/escape', '/in/tests/escape',"
         " '/etc/escape', '/results/escape', '/root/escape', '/in/tests/test_solution.py'):\n"
         "        try:\n            open(path, 'a').write('x')\n        except OSError:\n"
         "            continue\n        raise AssertionError(path)\n", {"passed"}, TEST_OK),
    Case("symlinks_where_results_are_read",
         "import os\nfor p in ('/results/report.json', '/results/junit.xml', '/work/report.json'):"
         "\n    try:\n        os.unlink(p)\n    except OSError:\n        pass\n"
         "    try:\n        os.symlink('/etc/shadow', p)\n    except OSError:\n        pass\n"
         "def run():\n    return None\n", {"passed"}),
    Case("exit_zero_on_import", "import sys\nsys.exit(0)\ndef run():\n    pass\n",
         {"error"}),
    Case("os_exit_zero_on_import", "import os\nos._exit(0)\ndef run():\n    pass\n",
         {"failed"}, split={"error"}),
    Case("exit_zero_in_test", "import sys\ndef run():\n    sys.exit(0)\n", {"failed"}),
    Case("syntax_error", "def run(:\n    pass\n", {"error"}),
    Case("forged_passed_lines",
         FLOOD_FDS + "for fd in pipes():\n    try:\n"
                     "        os.write(fd, b'test_solution.py::test_run PASSED\\n"
                     "=== 1 passed in 0.01s ===\\n')\n    except OSError:\n        pass\n"
                     "def run():\n    return 1\n", {"failed"}, split={"failed", "error"}),
    Case("forged_results_file",
         "import json\ndef run():\n    with open('/results/report.json', 'a') as f:\n"
         "        f.write('0' * 64 + ' ' + json.dumps({'kind': 'test', 'seq': 3,"
         " 'nodeid': 'test_solution.py::test_run', 'when': 'call', 'outcome': 'passed'})"
         " + '\\n')\n    raise AssertionError('wrong')\n", {"tamper_suspected"}, split={"failed"}),
    Case("patch_report_class",
         "import _pytest.reports as r\n_orig = r.TestReport.__init__\n"
         "def _init(self, *a, **k):\n    _orig(self, *a, **k)\n    self.outcome = 'passed'\n"
         "    self.longrepr = None\nr.TestReport.__init__ = _init\n"
         "def run():\n    return 1\n", {"tamper_suspected"}, split={"failed"}),
    Case("patch_runner_module",
         "import _pytest.runner as rn\n_orig = rn.call_and_report\n"
         "def fake(item, when, log=True, **kw):\n    rep = _orig(item, when, log=False, **kw)\n"
         "    rep.outcome = 'passed'\n    rep.longrepr = None\n"
         "    item.ihook.pytest_runtest_logreport(report=rep)\n    return rep\n"
         "rn.call_and_report = fake\n"
         "def run():\n    return 1\n", {"tamper_suspected"}, split={"failed"}),
    Case("swap_code_object",
         "import _pytest.reports as r\n"
         "def _passed(self):\n    return True\n"
         "r.BaseReport.passed.fget.__code__ = _passed.__code__\n"
         "def run():\n    return 1\n", {"tamper_suspected"}, split={"failed"}),
    Case("conftest_injection", "def run():\n    return 1\n", {"tamper_suspected"},
         extra_files={"conftest.py": "import pytest\n@pytest.hookimpl(hookwrapper=True)\n"
                                     "def pytest_runtest_makereport(item, call):\n"
                                     "    o = yield\n    o.get_result().outcome = 'passed'\n"},
         via_harness=True),
    Case("sitecustomize_injection", "def run():\n    return 1\n", {"tamper_suspected"},
         extra_files={"sitecustomize.py": "import os\n"}, via_harness=True),
    Case("pth_injection", "def run():\n    return 1\n", {"tamper_suspected"},
         extra_files={"evil.pth": "import os; os._exit(0)\n"}, via_harness=True),
    # The same files with the refusal bypassed (backend called directly): the
    # runner's fixed rootdir/confcutdir and `python -I` still ignore them.
    Case("conftest_past_refusal", "def run():\n    return 1\n", {"failed"},
         extra_files={"conftest.py": "import pytest\n@pytest.hookimpl(hookwrapper=True)\n"
                                     "def pytest_runtest_makereport(item, call):\n"
                                     "    o = yield\n    r = o.get_result()\n"
                                     "    r.outcome = 'passed'\n    r.longrepr = None\n",
                      "pytest.ini": "[pytest]\naddopts = -p no:python\n"}),
    Case("sitecustomize_past_refusal", "def run():\n    return 1\n", {"failed"},
         extra_files={"sitecustomize.py": "import os\nos._exit(0)\n",
                      "usercustomize.py": "import os\nos._exit(0)\n",
                      "evil.pth": "import os; os._exit(0)\n"}),
    Case("gc_forged_report", FORGER, {"tamper_suspected"}, via_harness=True, split={"failed"}),
    Case("always_equal",
         "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
         "def add(a, b):\n    return AlwaysEqual()\n", {"tamper_suspected"},
         tests=PASSING_TESTS["test_solution.py"], via_harness=True, split={"failed"}),
]


MODES = ["split", "in_process"]


@pytest.fixture(params=BACKENDS)
def sb(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    backend = require_backend(request.param)
    # nothing started ahead of need, by any backend of this process, while a hostile run
    # and its teardown are watched: a spare started in the background is not a leftover
    others = [b for b in shared_backends() if b is not backend]
    sizes = {id(b): (b.pool.size, b.split_pool.size)  # type: ignore[attr-defined]
             for b in [backend, *others]}
    for b in [backend, *others]:
        b.set_pool_size(0)
    before = host_state(backend)
    try:
        yield backend
        assert_clean(backend, before)
    finally:
        for b in [backend, *others]:
            b.pool.size, b.split_pool.size = sizes[id(b)]  # type: ignore[attr-defined]
    again = backend.run(GOOD, PASSING_TESTS, Limits(wall_s=8))
    assert again.status == "passed", f"harness no longer runs a good candidate: {again.error}"


def _run(sb: Sandbox, case: Case, mode: str) -> RunResult:
    files = {"solution.py": case.solution, **case.extra_files}
    tests = {"test_solution.py": case.tests}
    if case.via_harness:
        result = run_candidate(files, tests, LIMITS, sb, mode=mode)
    else:
        result = sb.run(files, tests, LIMITS, mode=mode)
    assert result.integrity == mode or result.status == "tamper_suspected" and not result.tests
    return result


# Cases that run until the wall limit; they run concurrently (one test per backend).
RUNAWAY = {"busy_loop", "sleep_forever", "fork_bomb", "sigterm_ignored", "alarm_cancelled",
           "many_procs_over_total"}
QUICK = [c for c in CASES if c.name not in RUNAWAY]


@pytest.mark.parametrize("mode", MODES)
def test_runaway_cases_are_stopped_at_the_limits(sb: Sandbox, mode: str) -> None:
    """In process the run hits the wall time; split, the call into the candidate
    times out first and only the waiting test fails (or the wall time, on a slow host)."""
    cases = [c for c in CASES if c.name in RUNAWAY]
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = dict(zip([c.name for c in cases],
                           pool.map(lambda c: _run(sb, c, mode), cases), strict=True))
    statuses = {name: res.status for name, res in results.items()}
    if mode == "split":
        assert set(statuses.values()) <= {"failed", "timeout", "oom"}, statuses
    else:
        assert statuses == {c.name: next(iter(c.expect)) for c in cases}
    for res in results.values():
        assert res.wall_s < LIMITS.wall_s + 3, res.to_dict()
        assert all(t.outcome in {"missing", "failed"} for t in res.tests)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", QUICK, ids=[c.name for c in QUICK])
def test_hostile_case(sb: Sandbox, case: Case, mode: str) -> None:
    res = _run(sb, case, mode)
    detail = {k: v for k, v in res.to_dict().items() if k not in {"stdout", "stderr"}}
    assert res.status in case.expected(mode), (detail, res.stderr[-2000:], res.stdout[-1000:])
    assert res.wall_s < LIMITS.wall_s + 3
    if case.max_wall is not None:
        assert res.wall_s < case.max_wall, detail
    if res.status == "output_limit":
        assert res.stdout_truncated or res.stderr_truncated
        assert len(res.stdout) <= LIMITS.output_bytes and len(res.stderr) <= LIMITS.output_bytes


def test_host_environment_secret_is_invisible(sb: Sandbox, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    secret = "s3cr3t-" + secrets.token_hex(8)
    monkeypatch.setenv("HARNESS_HOSTILE_SECRET", secret)
    solution = ("import os, glob\ndef run():\n    seen = dict(os.environ)\n"
                "    for p in glob.glob('/proc/*/environ'):\n        try:\n"
                "            seen[p] = open(p, 'rb').read().decode(errors='replace')\n"
                "        except OSError:\n            pass\n"
                "    os.write(1, repr(seen).encode())\n"
                "    assert 'HARNESS_HOSTILE_SECRET' not in os.environ\n")
    res = sb.run({"solution.py": solution}, {"test_solution.py": TEST_OK}, LIMITS)
    assert res.status == "passed", res.to_dict()
    assert secret not in res.stdout + res.stderr


def test_host_files_are_invisible(sb: Sandbox, tmp_path: Path) -> None:
    secret = "host-file-" + secrets.token_hex(8)
    marker = Path("/tmp") / f"harness-hostile-{secrets.token_hex(4)}"  # noqa: S108
    marker.write_text(secret)
    marker.chmod(0o644)
    repo = Path(__file__).resolve().parents[2]
    try:
        paths = [str(marker), "/root", "/home", str(repo), str(repo / "pyproject.toml"),
                 "/etc/shadow", "/var/lib/docker", "/proc/1/root/etc/hostname"]
        solution = ("import os\ndef run():\n    found = []\n"
                    f"    for p in {paths!r}:\n"
                    "        try:\n            if os.path.isdir(p):\n"
                    "                found.append((p, os.listdir(p)))\n"
                    "            else:\n                found.append((p, open(p).read()))\n"
                    "        except OSError:\n            pass\n"
                    "    os.write(1, repr(found).encode())\n"
                    f"    assert not any(p in ({str(marker)!r}, {str(repo)!r}) for p, _ in found)"
                    "\n")
        res = sb.run({"solution.py": solution}, {"test_solution.py": TEST_OK}, LIMITS)
        assert res.status == "passed", (res.to_dict(), res.stdout[-2000:])
        assert secret not in res.stdout + res.stderr
        assert "[tool.pytest" not in res.stdout
    finally:
        marker.unlink()


def test_network_is_unreachable_and_the_listener_sees_nothing(sb: Sandbox) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    seen: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = listener.accept()
            except OSError:
                continue
            seen.append(addr)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    solution = ("import socket\ndef run():\n    failures = 0\n"
                f"    for host in ('127.0.0.1', 'localhost'):\n        try:\n"
                f"            socket.create_connection((host, {port}), timeout=1).close()\n"
                "        except OSError:\n            failures += 1\n"
                "    try:\n        socket.getaddrinfo('localhost.invalid', 80)\n"
                "    except OSError:\n        failures += 1\n"
                "    try:\n        socket.getaddrinfo('example.com', 443)\n"
                "    except OSError:\n        failures += 1\n"
                "    assert failures == 4, failures\n")
    try:
        res = sb.run({"solution.py": solution}, {"test_solution.py": TEST_OK}, LIMITS)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert res.status == "passed", res.to_dict()
    assert seen == []


def test_tmp_leftovers_are_invisible_to_the_next_run(sb: Sandbox) -> None:
    first = ("def run():\n    for d in ('/tmp', '/work'):\n"
             "        open(d + '/leftover', 'w').write('from the last run')\n")
    second = ("import os\ndef run():\n"
              "    assert not os.path.exists('/tmp/leftover')\n"
              "    assert not os.path.exists('/work/leftover')\n")
    assert sb.run({"solution.py": first}, {"test_solution.py": TEST_OK}, LIMITS).status == \
        "passed"
    res = sb.run({"solution.py": second}, {"test_solution.py": TEST_OK}, LIMITS)
    assert res.status == "passed", res.to_dict()


def test_kill_all_spares_the_hosts_nobody_processes(sb: Sandbox) -> None:
    bystander = subprocess.Popen(["sleep", "30"], user=65534, group=65534, extra_groups=[])
    try:
        res = sb.run({"solution.py": "import os, time\ndef run():\n    try:\n"
                                    "        os.kill(-1, 9)\n    except OSError:\n"
                                    "        pass\n    time.sleep(0.2)\n"},
                     {"test_solution.py": TEST_OK}, LIMITS)
        assert res.status == "passed"
        assert bystander.poll() is None, "kill(-1) in the sandbox reached a host process"
    finally:
        bystander.kill()
        bystander.wait()


def test_dev_is_not_uncapped_storage(sb: Sandbox) -> None:
    """/dev and /dev/shm take no more than disk_mb (bwrap's /dev is a tmpfs of its own)."""
    tag = secrets.token_hex(6)
    solution = (
        "import os\ndef run():\n    written = {}\n"
        "    for d in ('/dev', '/dev/shm'):\n        total = 0\n        try:\n"
        "            for n in range(25):\n"
        f"                with open(f'{{d}}/fill-{tag}-{{n}}', 'wb') as f:\n"
        "                    f.write(b'0' * (8 << 20))\n"
        "                total += 8\n        except OSError:\n            pass\n"
        "        written[d] = total\n"
        "    with open('/dev/null', 'w') as f:\n        f.write('still writable')\n"
        "    assert all(mb <= 64 for mb in written.values()), written\n")
    limits = Limits(wall_s=8, memory_mb=512, pids=64, output_bytes=1 << 20, disk_mb=64)
    res = sb.run({"solution.py": solution}, {"test_solution.py": TEST_OK}, limits)
    assert res.status == "passed", (res.to_dict(), res.stderr[-2000:])
    assert list(Path("/dev/shm").glob(f"fill-{tag}-*")) == []  # noqa: S108 - the host's


def test_a_report_forged_through_gc_is_caught_by_the_gaming_hints(sb: Sandbox) -> None:
    """The runner alone cannot stop this (the key lives in the candidate's process):
    the bare backend takes the forgery in process; run_candidate's static hints catch
    it. Split, there is no runner in the candidate's process to forge with."""
    files = {"solution.py": FORGER}
    tests = {"test_solution.py": TEST_RUN}
    bare = sb.run(files, tests, LIMITS, mode="in_process")
    assert bare.status in {"passed", "tamper_suspected"}, bare.to_dict()
    assert sb.run(files, tests, LIMITS, mode="split").status == "failed"
    res = run_candidate(files, tests, LIMITS, sb, mode="in_process")
    assert res.status == "tamper_suspected", res.to_dict()
    assert any("generated-code" in t for t in res.tamper), res.tamper

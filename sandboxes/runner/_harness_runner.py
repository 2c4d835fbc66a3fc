"""The in-sandbox test runner (runs inside the sandbox with the image's Python).

Started as `python3 -I -B /in/_harness_runner.py`. It imports pytest first (a
pooled container does this before it has a job), then reads one JSON job from
stdin: the per-run report key, the trusted test paths and the pytest ini.

Per-test outcomes go to /results/report.json, one record a line, each line
prefixed with an HMAC-SHA256 under the per-run key. The key only ever travels
through stdin and lives in a closure, so a candidate that writes its own lines
(or truncates the file) produces lines that fail verification outside; the
harness treats that as tampering.

The candidate's code runs in this process (the tests import it), so a check
here can be defeated by code written against this runner specifically. What it
catches is the generic kind of report gaming: replacing pytest's report,
runner or hook functions, registering result hooks at run time, swapping
`__code__` of functions, and a call phase that raised while its report says
passed (observed by a `pytest_pyfunc_call` wrapper installed first).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable, Generator
from typing import Any

import _pytest.python
import _pytest.reports
import _pytest.runner
import pluggy
import pytest

RESULTS = "/results/report.json"
CANDIDATE_DIR = "/in/candidate"
TESTS_DIR = "/in/tests"
WORK = "/work"
MESSAGE_CAP = 2000
COLLECT_CAP = 20000
READY = b"harness-runner-ready\n"  # sandboxes.staging.READY
SPLIT_FILE = "/in/_harness_split.py"
WATCHED_HOOKS = (
    "pytest_runtest_makereport", "pytest_runtest_logreport", "pytest_report_teststatus",
    "pytest_pyfunc_call", "pytest_runtest_protocol", "pytest_runtest_call",
    "pytest_runtestloop", "pytest_runtest_setup", "pytest_runtest_teardown",
)


def _hook_caller_class() -> type | None:
    hooks = sys.modules.get("pluggy._hooks")
    return getattr(pluggy, "HookCaller", None) or getattr(hooks, "_HookCaller", None)


def _watched_objects() -> dict[str, Any]:
    objs: dict[str, Any] = {
        "runner.call_and_report": getattr(_pytest.runner, "call_and_report", None),
        "runner.runtestprotocol": getattr(_pytest.runner, "runtestprotocol", None),
        "runner.call_runtest_hook": getattr(_pytest.runner, "call_runtest_hook", None),
        "runner.CallInfo.from_call": _pytest.runner.CallInfo.__dict__.get("from_call"),
        "runner.pytest_runtest_makereport":
            getattr(_pytest.runner, "pytest_runtest_makereport", None),
        "reports.TestReport.__init__": _pytest.reports.TestReport.__dict__.get("__init__"),
        "reports.TestReport.from_item_and_call":
            _pytest.reports.TestReport.__dict__.get("from_item_and_call"),
        "reports.BaseReport.passed": _pytest.reports.BaseReport.__dict__.get("passed"),
        "reports.BaseReport.failed": _pytest.reports.BaseReport.__dict__.get("failed"),
        "python.Function.runtest": _pytest.python.Function.__dict__.get("runtest"),
        "python.pytest_pyfunc_call": getattr(_pytest.python, "pytest_pyfunc_call", None),
        "pluggy.HookCaller.__call__": vars(_hook_caller_class() or object).get("__call__"),
        "pluggy.PluginManager._hookexec":
            getattr(pluggy.PluginManager, "_hookexec", None),
    }
    for name in ("_pytest.runner", "_pytest.reports", "_pytest.python", "_pytest.main",
                 "pluggy", "pytest", "__main__"):
        objs["module " + name] = sys.modules.get(name)
    plugin = globals().get("ReportPlugin")
    for name, value in (vars(plugin).items() if plugin else ()):
        if callable(value):
            objs["runner.ReportPlugin." + name] = value
    return objs


def _codes(objs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, obj in objs.items():
        fn = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
        out[name] = getattr(fn, "__code__", None)
    return out


Writer = Callable[..., None]


def _split_module() -> Any:
    """/in/_harness_split.py (split execution), loaded by path: `-I` keeps /in off sys.path."""
    import importlib.util

    name = "_harness_split"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SPLIT_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def make_writer(fd: int, key: bytes) -> Writer:
    seq = [0]

    def write(kind: str, **payload: Any) -> None:
        seq[0] += 1
        payload.update(kind=kind, seq=seq[0])
        body = json.dumps(payload, sort_keys=True)
        mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
        os.write(fd, (mac + " " + body + "\n").encode())

    return write


class ReportPlugin:
    def __init__(self, write: Writer, audit_events: list[str]) -> None:
        self._write = write
        self._audit = audit_events
        self._objs = _watched_objects()
        self._codes = _codes(self._objs)
        self._hookimpls: dict[str, tuple[int, ...]] | None = None
        self._raised: dict[str, str] = {}
        self._flagged: set[str] = set()

    def _hook_snapshot(self, config: pytest.Config) -> dict[str, tuple[int, ...]]:
        snap: dict[str, tuple[int, ...]] = {}
        for name in WATCHED_HOOKS:
            caller = getattr(config.pluginmanager.hook, name, None)
            impls = caller.get_hookimpls() if caller is not None else []
            snap[name] = tuple(id(i.function) for i in impls)
        return snap

    def _flag(self, reason: str) -> None:
        if reason not in self._flagged:
            self._flagged.add(reason)
            self._write("tamper", reason=reason)

    def check_integrity(self, config: pytest.Config) -> None:
        now = _watched_objects()
        for name, obj in self._objs.items():
            if now.get(name) is not obj:
                self._flag(f"pytest internals replaced at run time: {name}")
        for name, code in _codes(now).items():
            if code is not self._codes.get(name):
                self._flag(f"code object of {name} swapped at run time")
        if self._hookimpls is not None:
            for name, ids in self._hook_snapshot(config).items():
                if ids != self._hookimpls.get(name):
                    self._flag(f"pytest hook {name} re-registered at run time")
        while self._audit:
            self._flag(self._audit.pop(0))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._hookimpls = self._hook_snapshot(session.config)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, None]:
        outcome = yield
        exc = outcome.excinfo
        if exc is not None and not issubclass(
                exc[0], (pytest.skip.Exception, pytest.xfail.Exception)):
            self._raised[pyfuncitem.nodeid] = exc[0].__name__

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._write("collected", items=[item.nodeid for item in session.items][:COLLECT_CAP])

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write("collect_error", nodeid=report.nodeid,
                        message=str(report.longrepr)[-MESSAGE_CAP:])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        xfail = hasattr(report, "wasxfail")
        raised = self._raised.pop(report.nodeid, None) if report.when == "call" else None
        if raised and report.passed and not xfail:
            self._flag(f"{report.nodeid}: test raised {raised} but its report says passed")
        message = ""
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = str(getattr(crash, "message", "")) or str(report.longrepr)
        self._write("test", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
                    xfail=xfail, raised=raised, duration=round(report.duration, 6),
                    message=message[:MESSAGE_CAP])

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item,
                                nextitem: pytest.Item | None) -> Generator[None, Any, None]:
        yield
        self.check_integrity(item.config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.check_integrity(session.config)
        self._write("end", exitstatus=int(exitstatus))


def main() -> None:
    sys.dont_write_bytecode = True
    # Up, with pytest imported, before any job or candidate code: the host sends the
    # job only after this line, so a runner that never starts is the sandbox's fault.
    received: int | None = None
    if os.path.exists(SPLIT_FILE):  # before READY, like pytest: nothing to import later
        received = _split_module().receive_link()
    os.write(1, READY)
    job = json.loads(sys.stdin.readline())
    started = time.time()
    key = bytes.fromhex(job.pop("key"))
    fd = os.open(RESULTS, os.O_WRONLY | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC)
    write = make_writer(fd, key)
    del key
    write("start", pid=os.getpid(), python=sys.version.split()[0], pytest=pytest.__version__)

    audit_events: list[str] = []

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
            audit_events.append(f"__code__ of {getattr(args[0], '__qualname__', '?')} "
                                "replaced at run time")

    sys.addaudithook(audit)

    for root, dirs, files in os.walk(CANDIDATE_DIR):
        rel = os.path.relpath(root, CANDIDATE_DIR)
        for d in dirs:
            os.makedirs(os.path.join(WORK, rel, d), exist_ok=True)
        for f in files:
            shutil.copyfile(os.path.join(root, f), os.path.join(WORK, rel, f))
    os.chdir(WORK)
    sys.path.insert(0, WORK)
    split = job.get("split")
    if split:  # the candidate runs in its own process: its modules are stand-ins here
        link_fd = split["link_fd"] if split["link_fd"] is not None else received
        if link_fd is None:
            raise RuntimeError("split execution without a link to the candidate process")
        _split_module().install_judge(int(link_fd), list(split["modules"]),
                                      float(split["call_timeout"]))
    plugin = ReportPlugin(write, audit_events)
    args = ["-c", "/in/pytest.ini", "--rootdir", TESTS_DIR, "--confcutdir", TESTS_DIR,
            "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:pastebin",
            "--import-mode=prepend", "-q", "-rN", "--tb=short", "--color=no",
            *[os.path.join(TESTS_DIR, p) for p in job["tests"]]]
    code = 4
    try:
        code = int(pytest.main(args, plugins=[plugin]))
    finally:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
            resource.RUSAGE_CHILDREN)
        write("done", exitstatus=code, runner_s=round(time.time() - started, 3),
              cpu_s=round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 4),
              maxrss=max(me.ru_maxrss, kids.ru_maxrss) * 1024)
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()

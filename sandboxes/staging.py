"""What every backend shares: staging a run's files, capping output, the verdict.

A run's host staging dir (`harness-sbx-<pid>.<start>-*` in the temp dir, removed when the run
ends) holds `in/` (candidate files, trusted tests, the runner, an empty ini;
bound read-only at /in) and `results/report.json` (owned by the sandbox user,
bound as a single file at /results/report.json, so the sandbox can neither
replace it with a link nor create anything else there).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import selectors
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sandboxes import owners, verdict
from sandboxes.base import Limits, RunResult, check_relative_path

SANDBOX_UID = 65534
STAGE_PREFIX = "harness-sbx-"
RUNNER_NAME = "_harness_runner.py"
RUNNER_ARGV = ["python3", "-I", "-B", f"/in/{RUNNER_NAME}"]
SPLIT_NAME = "_harness_split.py"
# Split execution: the candidate process (sandboxes/runner/_harness_split.py as a script).
CANDIDATE_ARGV = ["python3", "-I", "-B", f"/in/{SPLIT_NAME}"]
# The candidate process runs as another host uid than the judge.
CANDIDATE_UID = 65533
# The runner's first line on stdout, once pytest is imported and before it reads its job.
READY = b"harness-runner-ready\n"
# How long a sandbox may take to bring its runner up before the run is a sandbox_error.
READY_TIMEOUT_S = 60.0
BUILD_HINT = "build the sandbox image with `harness sandbox build --offline`"
# The sandbox's own size-capped tmpfs, never the host's /tmp.
SANDBOX_TMP = "/tmp"  # noqa: S108
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": SANDBOX_TMP,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TMPDIR": SANDBOX_TMP,
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
}


@functools.cache
def runner_source(name: str = RUNNER_NAME) -> bytes:
    return (resources.files("sandboxes.runner") / name).read_bytes()


def candidate_modules(files: Mapping[str, str]) -> list[str]:
    """Top-level names the candidate's files can be imported as (split execution:
    the judge's imports of these names give stand-ins)."""
    names = set()
    for path in files:
        head = check_relative_path(path).split("/", 1)[0]
        if head.endswith(".py") and "/" not in path:
            names.add(head[:-3])
        elif "/" in path and path.endswith(".py") and head.isidentifier():
            names.add(head)
    return sorted(n for n in names if n.isidentifier())


def _write_tree(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / check_relative_path(name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)


@dataclass
class Stage:
    root: Path
    key: bytes
    expected: verdict.Expected

    @property
    def in_dir(self) -> Path:
        return self.root / "in"

    @property
    def report(self) -> Path:
        return self.root / "results" / "report.json"

    @classmethod
    def empty(cls) -> Stage:
        """A staging dir with the runner but no job yet (for pooled containers)."""
        root = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{owners.local_tag()}-"))
        try:
            root.chmod(0o711)
            (root / "in").mkdir(mode=0o755)
            (root / "in" / RUNNER_NAME).write_bytes(runner_source())
            (root / "in" / SPLIT_NAME).write_bytes(runner_source(SPLIT_NAME))
            (root / "in" / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            for sub in ("candidate", "tests"):
                (root / "in" / sub).mkdir(mode=0o755)
            for p in (root / "in").iterdir():
                p.chmod(0o755 if p.is_dir() else 0o644)
            (root / "results").mkdir(mode=0o711)
            fd = os.open(root / "results" / "report.json",
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            if os.geteuid() == 0:
                os.chown(root / "results" / "report.json", SANDBOX_UID, SANDBOX_UID)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(root, b"", verdict.Expected())

    def fill(self, candidate_files: Mapping[str, str], test_files: Mapping[str, str],
             **extra: object) -> str:
        """Write the files; returns the job line for the runner's stdin (`extra` joins it)."""
        _write_tree(self.in_dir / "candidate", candidate_files)
        _write_tree(self.in_dir / "tests", test_files)
        self.expected = verdict.expected_tests(test_files)
        self.key = secrets.token_bytes(32)
        return json.dumps({"key": self.key.hex(), "tests": sorted(self.expected.tests),
                           **extra}) + "\n"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class LinkOffer:
    """A socket the host listens on in a stage's /in (`link.sock`), to hand one end of
    the split-execution link to a container's process (SCM_RIGHTS) as it starts."""

    def __init__(self, stage: Stage) -> None:
        self.path = stage.in_dir / "link.sock"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.listener.bind(str(self.path))
            self.path.chmod(0o666)  # the sandbox user connects; /in itself stays read-only
            self.listener.listen(1)
        except BaseException:
            self.listener.close()
            raise

    def hand_over(self, link: socket.socket, timeout: float = READY_TIMEOUT_S) -> None:
        """Give `link` to the first process that connects (the sandbox's own runner,
        which connects before any candidate code runs), then stop listening."""
        try:
            self.listener.settimeout(timeout)
            conn, _ = self.listener.accept()
            with conn:
                socket.send_fds(conn, [b"L"], [link.fileno()])
        finally:
            self.close()

    def close(self) -> None:
        self.listener.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


@dataclass
class Capture:
    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass
class Pumped:
    timed_out: bool = False
    output_exceeded: bool = False
    exited: bool = False


def pump(fds: Mapping[str, int], captures: Mapping[str, Capture], deadline: float,
         exited: Callable[[], bool], exit_fd: int | None = None,
         drain_after_exit: float = 0.5) -> Pumped:
    """Read the pipes into the captures until EOF on all, the deadline, or too much output.

    Once the process has exited, keeps draining for at most `drain_after_exit`
    seconds (a grandchild may still hold the pipe; the caller kills the group).
    """
    sel = selectors.DefaultSelector()
    for name, fd in fds.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    if exit_fd is not None:
        sel.register(exit_fd, selectors.EVENT_READ, None)
    state = Pumped()
    open_fds = set(fds.values())
    hard_stop: float | None = None
    try:
        while open_fds:
            now = time.monotonic()
            if now >= deadline:
                state.timed_out = True
                break
            if hard_stop is not None and now >= hard_stop:
                break
            wait = min(deadline, hard_stop or deadline) - now
            for sk, _ in sel.select(timeout=max(0.0, min(wait, 0.25))):
                if sk.data is None:
                    sel.unregister(sk.fd)
                    continue
                fd = int(sk.fd)
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    continue
                capture = captures[sk.data]
                capture.add(chunk)
                if capture.truncated:
                    state.output_exceeded = True
                    return state
            if hard_stop is None and exited():
                state.exited = True
                hard_stop = time.monotonic() + drain_after_exit
    finally:
        sel.close()
    state.exited = state.exited or exited()
    return state


def await_output(fds: list[int], timeout: float = READY_TIMEOUT_S) -> None:
    """Wait, reading nothing, until every fd has something to read (a runner's READY
    line, or EOF when it could not start) or the timeout passes; a closed fd counts as
    done. `settle()` uses it on the sandboxes waiting in a pool, so "settled" means
    their runners are up, not still importing pytest beside the next run."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for fd in fds:
            with contextlib.suppress(OSError, ValueError):  # taken and closed meanwhile
                sel.register(fd, selectors.EVENT_READ)
        while sel.get_map() and time.monotonic() < deadline:
            try:
                events = sel.select(timeout=max(0.0, deadline - time.monotonic()))
            except OSError:
                return
            for key, _ in events:
                sel.unregister(key.fd)


def await_ready(fd: int, deadline: float, err: Capture | None = None,
                err_fd: int | None = None) -> bool:
    """Read the runner's READY line from `fd` (its stdout, nothing else is written
    there before the job); False on EOF or at the deadline. Stderr read meanwhile
    goes to `err` (so a runner that cannot start says why)."""
    seen = b""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, "out")
    if err_fd is not None:
        os.set_blocking(err_fd, False)
        sel.register(err_fd, selectors.EVENT_READ, "err")
    os.set_blocking(fd, False)
    try:
        while time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0.0, min(0.25, deadline - time.monotonic()))):
                try:
                    chunk = os.read(int(key.fd), len(READY) - len(seen)
                                    if key.data == "out" else 1 << 16)
                except BlockingIOError:
                    continue
                if key.data == "err":
                    if not chunk:
                        sel.unregister(key.fd)
                    elif err is not None:
                        err.add(chunk)
                    continue
                if not chunk:
                    return False
                seen += chunk
                if seen == READY:
                    return True
                if not READY.startswith(seen):
                    return False
        return False
    finally:
        sel.close()


class RunnerNotStarted(Exception):
    """The runner never said it was up: an infrastructure fault, not the candidate's."""


def not_started(err: Capture, hint: str = "") -> str:
    """The sandbox_error message of a runner that never came up."""
    why = err.text()[-400:].strip() or "no output"
    return f"the sandbox runner did not start: {why}" + (f"; {hint}" if hint else "")


def call_timeout(limits: Limits) -> float:
    """How long the judge waits for one call into the candidate process before that
    test fails: well inside the wall time, so the judge still reports the rest."""
    return round(max(0.5, limits.wall_s * 0.8 - 0.5), 3)


def drain(fds: Mapping[str, int], captures: Mapping[str, Capture]) -> None:
    """Read pipes until EOF on all, keeping what fits in the captures (the candidate
    process's own output in split execution: never a reason to stop the run)."""
    sel = selectors.DefaultSelector()
    for name, fd in fds.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    try:
        while sel.get_map():
            for key, _ in sel.select(timeout=1.0):
                try:
                    chunk = os.read(int(key.fd), 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(key.fd)
                elif not captures[key.data].truncated:
                    captures[key.data].add(chunk)
    finally:
        sel.close()


def assemble(*, stage: Stage, backend: str, image: str, isolation: str, limits: Limits,
             started: float, exit_code: int | None, sig: int | None, pumped: Pumped,
             out: Capture, err: Capture, cpu_s: float | None, peak: int | None,
             oom: bool, infra_error: str | None = None,
             ended: float | None = None, delivered: bool = False) -> RunResult:
    """The RunResult from what the backend observed and the report it left.

    `delivered`: the job reached the runner, which had started (it waits for the
    job with pytest imported). If the report then holds no start record and the
    host saw nothing wrong, the candidate erased it: that is tampering, not an
    infrastructure error.
    """
    wall = round((ended or time.monotonic()) - started, 4)
    data, problem = verdict.read_report(stage.report)
    report = verdict.parse_report(data, stage.key)
    if problem:
        report.tamper.append(problem)
    tests = verdict.outcomes(stage.expected, report)
    done = next((r for r in report.records if r.get("kind") == "done"), {})
    if cpu_s is None and isinstance(done.get("cpu_s"), int | float):
        cpu_s = float(done["cpu_s"])  # reported from inside: informational only
    if peak is None and isinstance(done.get("maxrss"), int):
        peak = int(done["maxrss"])
    error: str | None = None
    if infra_error is not None:
        status, error = "sandbox_error", infra_error
    elif report.tamper:
        status = "tamper_suspected"
    elif oom:  # before timeout: an OOM kill is often why the rest then hung
        status, error = "oom", f"memory limit of {limits.memory_mb} MiB reached"
    elif pumped.timed_out:
        status, error = "timeout", f"wall time limit of {limits.wall_s:g} s reached"
    elif pumped.output_exceeded:
        status, error = "output_limit", f"output limit of {limits.output_bytes} bytes reached"
    elif not report.started and delivered:
        status = "tamper_suspected"
        report.tamper.append("the results file is empty or lost its start record after "
                             "the job was delivered")
    elif not report.started:
        status = "sandbox_error"
        error = "the runner did not start: " + (err.text()[-400:].strip() or "no output")
    else:
        status, error = verdict.decide(tests, report)
    return RunResult(
        status=status, exit_code=exit_code, signal=sig, tests=tests, wall_s=wall,
        cpu_s=None if cpu_s is None else round(cpu_s, 4), peak_memory_bytes=peak,
        stdout=out.text(), stderr=err.text(), stdout_truncated=out.truncated,
        stderr_truncated=err.truncated, backend=backend, image=image, isolation=isolation,
        tamper=list(report.tamper), error=error,
    )


def error_result(backend: str, image: str, started: float, error: str,
                 isolation: str = "full") -> RunResult:
    """A sandbox_error result for a run that never got going."""
    return RunResult.failure("sandbox_error", error, backend=backend, image=image,
                             isolation=isolation, wall_s=round(time.monotonic() - started, 4))


def sweep_stages() -> int:
    """Remove staging dirs whose owning harness process is gone (sandboxes.owners)."""
    removed = 0
    for d in Path(tempfile.gettempdir()).glob(STAGE_PREFIX + "*"):
        if owners.local_name_alive(d.name[len(STAGE_PREFIX):]):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(d)
            removed += 1
    return removed

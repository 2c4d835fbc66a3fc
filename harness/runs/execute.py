"""The one code path that executes a candidate's run and decides its verdict.

An executor is a function `(candidate_files, test_files, limits, *, mode=None,
hidden=()) -> RunResult`: `mode` the run's execution mode (None: the trusted tests
decide), `hidden` the names of the test files that are the task's hidden tests.
The worker and the probes take one as a parameter; production code gets it
from `sandbox_executor(settings)`, the only place that turns settings into a
sandbox backend (the CLI, the server and the probes all come here).

Split execution is the default: the trusted tests run in a judge process that
never imports candidate code; trusted tests that need the candidate's internals
opt out with `harness_execution = "in_process"` (sandboxes/verdict.py).

Verdict rules applied here, on top of the sandbox's own:
- candidate files that could shadow the runner (conftest.py, *.pth, ...) are
  refused before anything runs: status tamper_suspected, no run;
- a run that passed while the candidate trips a test-gaming hint is
  tamper_suspected too, with the hint as the reason.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Protocol

from harness.runs.hidden import combined, mark_hidden
from sandboxes.base import (
    Limits,
    RunResult,
    Sandbox,
    SandboxConfig,
    check_relative_path,
    get_backend,
    refused_files,
)
from sandboxes.verdict import execution_mode

if TYPE_CHECKING:
    from harness.settings import Settings


class Executor(Protocol):
    def __call__(self, files: Mapping[str, str], tests: Mapping[str, str], limits: Limits, *,
                 mode: str | None = None, hidden: Collection[str] = ()) -> RunResult: ...


def sandbox_config(settings: Settings) -> SandboxConfig:
    return SandboxConfig(sandbox_dir=settings.sandbox_dir)


def sandbox_backend(settings: Settings) -> Sandbox:
    """The configured backend (`auto` asks the Docker engine now)."""
    return get_backend(settings.sandbox_backend, sandbox_config(settings))


def check_backend(settings: Settings) -> tuple[Sandbox | None, bool, str]:
    """(backend, usable, detail): what `harness worker`, `serve` and `sandbox check` report."""
    try:
        backend = sandbox_backend(settings)
        ok, detail = backend.check()
    except Exception as exc:  # noqa: BLE001 - any failure here means the sandbox cannot run
        return None, False, f"{exc.__class__.__name__}: {exc}"
    return backend, ok, detail


def sandbox_executor(settings: Settings) -> Executor:
    """The production executor: the configured backend through `run_candidate`.

    The backend is resolved on first use, so building an executor does no I/O.
    """
    resolved: list[Sandbox] = []  # `auto` asks the docker engine once, not per run
    lock = threading.Lock()

    def execute(files: Mapping[str, str], tests: Mapping[str, str], limits: Limits, *,
                mode: str | None = None, hidden: Collection[str] = ()) -> RunResult:
        with lock:
            if not resolved:
                resolved.append(sandbox_backend(settings))
        return run_candidate(dict(files), dict(tests), limits, resolved[0], mode=mode,
                             hidden=hidden)

    return execute


def load_executor(spec: str | None, settings: Settings) -> Executor:
    """The configured sandbox, or a `module:function` executor (tests, custom set-ups).

    A spec that cannot be loaded is an InvalidInput naming it.
    """
    if not spec:
        return sandbox_executor(settings)
    from harness.errors import InvalidInput

    module, _, name = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidInput("bad_executor", f"{spec}: cannot load it ({exc})",
                           field="executor") from None
    if not callable(found):
        raise InvalidInput("bad_executor", f"{spec}: not a function", field="executor")
    executor: Executor = found
    return executor


def _refused_result(backend: Sandbox, refused: list[str]) -> RunResult:
    image = getattr(backend.config, "image_tag", "")
    return RunResult.failure(
        "tamper_suspected",
        "candidate ships files that could change how the tests run; not run",
        backend=backend.name, image=image, isolation="full", tamper=refused,
    )


def gaming_reasons(candidate_files: Mapping[str, str],
                   test_files: Mapping[str, str]) -> list[str]:
    from harness.analysis import gaming_flags
    from harness.analysis.analyzers.gaming import RULES

    return [f"gaming hint: {h.rule_id} {h.title} ({h.file_path}:{h.line_start}): {h.message}"
            for h in gaming_flags(candidate_files, test_files) if RULES[h.rule_id].suspect]


def _run(backend: Sandbox, candidate_files: Mapping[str, str],
         test_files: Mapping[str, str], limits: Limits, mode: str,
         hidden: Collection[str]) -> RunResult:
    """The sandbox run. Hidden tests never share a sandbox with the candidate: in
    in-process mode (the candidate and the tests in one interpreter, where it could read
    them) they run in a split run of their own, and the two results are combined."""
    if not hidden or mode != "in_process":
        return backend.run(candidate_files, test_files, limits, mode=mode)
    visible = {name: text for name, text in test_files.items() if name not in hidden}
    secret = {name: text for name, text in test_files.items() if name in hidden}
    hidden_run = backend.run(candidate_files, secret, limits, mode="split")
    if not visible:
        return hidden_run
    return combined(backend.run(candidate_files, visible, limits, mode="in_process"),
                    hidden_run)


def run_candidate(candidate_files: Mapping[str, str], test_files: Mapping[str, str],
                  limits: Limits, backend: Sandbox, *, mode: str | None = None,
                  hidden: Collection[str] = ()) -> RunResult:
    """Run `test_files` against `candidate_files` in `backend` and decide the verdict.

    `mode`: "split" (the tests in a judge process the candidate cannot reach) or
    "in_process"; by default the trusted tests decide (`verdict.execution_mode`:
    split unless they opt out). The result records which one ran as `integrity`.
    `hidden`: the names in `test_files` that are hidden tests. They run in the judge like
    the others (in in-process mode, in a split run of their own: `_run`); their outcomes
    are marked hidden, and the test-gaming hints (which quote the tests'
    literals) are taken from the visible tests only, so a reason never quotes a hidden one."""
    if mode is None:
        mode = execution_mode(test_files)
    refused = [f"refused file {name}" for name in refused_files(candidate_files)]
    for name in candidate_files:
        try:
            check_relative_path(name)
        except ValueError:
            refused.append(f"refused file name {name!r} (outside the work dir)")
    if refused:
        return _refused_result(backend, refused)
    result = mark_hidden(_run(backend, candidate_files, test_files, limits, mode, hidden),
                         hidden)
    if result.status == "passed":
        visible = {name: text for name, text in test_files.items() if name not in hidden}
        try:
            reasons = gaming_reasons(candidate_files, visible)
        except Exception as exc:  # noqa: BLE001 - a broken analyzer must not hide a result
            result.error = f"test-gaming check failed: {exc.__class__.__name__}: {exc}"
            return result
        if reasons:
            result.status = "tamper_suspected"
            result.tamper.extend(reasons)
            result.error = "the tests passed, but the candidate looks like it games them"
    return result

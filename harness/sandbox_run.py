"""The one code path that runs a candidate's tests (CLI now, the run queue later).

Verdict rules applied here, on top of the sandbox's own:
- candidate files that could shadow the runner (conftest.py, *.pth, ...) are
  refused before anything runs: status tamper_suspected, no run;
- a run that passed while the candidate trips a test-gaming hint is
  tamper_suspected too, with the hint as the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sandboxes.base import (
    Limits,
    RunResult,
    Sandbox,
    SandboxConfig,
    get_backend,
    refused_files,
    safe_relpath,
)


def sandbox_config(sandbox_dir: Path) -> SandboxConfig:
    return SandboxConfig(sandbox_dir=Path(sandbox_dir))


def _refused_result(backend: Sandbox, refused: list[str]) -> RunResult:
    image = getattr(backend.config, "image_tag", "")
    return RunResult(
        status="tamper_suspected", exit_code=None, signal=None, tests=[], wall_s=0.0,
        cpu_s=None, peak_memory_bytes=None, stdout="", stderr="", stdout_truncated=False,
        stderr_truncated=False, backend=backend.name, image=image, isolation="full",
        tamper=refused,
        error="candidate ships files that could change how the tests run; not run",
    )


def gaming_reasons(candidate_files: Mapping[str, str],
                   test_files: Mapping[str, str]) -> list[str]:
    from harness.analysis import gaming_flags

    return [f"gaming hint: {h.rule_id} {h.title} ({h.file_path}:{h.line_start}): {h.message}"
            for h in gaming_flags(candidate_files, test_files)]


def run_candidate(candidate_files: Mapping[str, str], test_files: Mapping[str, str],
                  limits: Limits, backend: Sandbox | str,
                  config: SandboxConfig | None = None) -> RunResult:
    """Run `test_files` against `candidate_files` in a sandbox and decide the verdict.

    `backend` is a Sandbox or a name (auto|docker|bwrap; a name needs `config`).
    """
    if isinstance(backend, str):
        if config is None:
            raise ValueError("a backend name needs a SandboxConfig")
        backend = get_backend(backend, config)
    refused = [f"refused file {name}" for name in refused_files(candidate_files)]
    for name in candidate_files:
        try:
            safe_relpath(name)
        except ValueError:
            refused.append(f"refused file name {name!r} (outside the work dir)")
    if refused:
        return _refused_result(backend, refused)
    result = backend.run(candidate_files, test_files, limits)
    if result.status == "passed":
        try:
            reasons = gaming_reasons(candidate_files, test_files)
        except Exception as exc:  # noqa: BLE001 - a broken analyzer must not hide a result
            result.error = f"test-gaming check failed: {exc.__class__.__name__}: {exc}"
            return result
        if reasons:
            result.status = "tamper_suspected"
            result.tamper.extend(reasons)
            result.error = "the tests passed, but the candidate looks like it games them"
    return result

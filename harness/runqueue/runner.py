"""What a run is keyed by and what executes it: the image, the limits, the runner.

A runner is a plain function `(candidate_files, test_files, limits) -> RunResult`.
The queue and the probes take one as a parameter; production code gets it from
`sandbox_runner`, which is the single code path of `harness.sandbox_run`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sandboxes.base import Limits, RunResult

Runner = Callable[[Mapping[str, str], Mapping[str, str], Limits], RunResult]

FALLBACK_IMAGE = "review-harness/sandbox-python"


class RunQueueError(Exception):
    """A run cannot be queued or executed; the message says why."""


def image_tag() -> str:
    """The sandbox image tag that decides a run (a content version, no I/O)."""
    try:
        from sandboxes.image import default_image_tag

        return default_image_tag()
    except ImportError:  # pragma: no cover - the sandbox package always ships it
        return FALLBACK_IMAGE


def limits_for(sandbox_limits: Mapping[str, Any] | None) -> Limits:
    """A project's limits: its overrides on top of the sandbox defaults."""
    try:
        return Limits.from_dict(dict(sandbox_limits or {}))
    except (TypeError, ValueError) as exc:
        raise RunQueueError(f"project sandbox limits: {exc}") from None


def dedup_key(candidate_hash: str, tests_hash: str, image: str, limits: Limits | str) -> str:
    """sha256 over what decides a run's outcome; identical candidates share a run.

    `limits` may be given as its `.key()` already, when computing many keys.
    """
    digest = hashlib.sha256()
    for part in (candidate_hash, tests_hash, image,
                 limits if isinstance(limits, str) else limits.key()):
        data = part.encode()
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def sandbox_runner(backend_name: str, sandbox_dir: Any) -> Runner:
    """The production runner: the configured backend through `harness.sandbox_run`.

    The backend is resolved on first use, so building a runner does no I/O.
    """
    from sandboxes.base import Sandbox, SandboxConfig, get_backend

    config = SandboxConfig(sandbox_dir=sandbox_dir)
    resolved: list[Sandbox] = []  # `auto` asks the docker engine once, not per run
    lock = threading.Lock()

    def run(files: Mapping[str, str], tests: Mapping[str, str], limits: Limits) -> RunResult:
        from harness.sandbox_run import run_candidate

        with lock:
            if not resolved:
                resolved.append(get_backend(backend_name, config))
        return run_candidate(dict(files), dict(tests), limits, resolved[0])

    return run

"""What decides a run's outcome, and so keys it: the image, the limits, the content,
the execution mode.

Identical candidates under identical tests (visible and hidden), image, limits and
project execution mode share one run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from harness.errors import InvalidInput
from sandboxes.base import MODES, Limits
from sandboxes.verdict import execution_mode

FALLBACK_IMAGE = "review-harness/sandbox-python"


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
        raise InvalidInput("bad_limits", f"project sandbox limits: {exc}",
                           field="sandbox_limits") from None


def run_mode(project_mode: str | None, tests: Mapping[str, str],
             hidden: Mapping[str, str] | None = None) -> str:
    """How a run executes: `in_process` when the project chose it, or when a trusted test
    file (visible or hidden) opts out with `harness_execution = "in_process"`; else split."""
    mode = project_mode if project_mode in MODES else "split"
    return execution_mode({**tests, **(hidden or {})}, default=mode)


def dedup_key(candidate_hash: str, tests_hash: str, image: str, limits: Limits | str,
              mode: str) -> str:
    """sha256 over what decides a run's outcome; identical candidates share a run.

    `limits` may be given as its `.key()` already, when computing many keys. `mode` is
    the project's execution mode (Project.execution_mode): a project that switches mode
    re-runs instead of reusing. A task's own opt-out is in its tests, so in tests_hash.
    """
    digest = hashlib.sha256()
    for part in (candidate_hash, tests_hash, image,
                 limits if isinstance(limits, str) else limits.key(), mode):
        data = part.encode()
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()

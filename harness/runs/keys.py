"""What decides a run's outcome, and so keys it: the image, the limits, the content.

Identical candidates under identical tests, image and limits share one run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from harness.errors import InvalidInput
from sandboxes.base import Limits

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

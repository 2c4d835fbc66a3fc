"""Running untrusted candidate code: the backend interface, the docker and
bubblewrap backends, the in-sandbox runner and the image builder.

Never imports `harness` (arrows point harness -> sandboxes). See README.md.
"""

from sandboxes.base import (
    REFUSED_NAMES,
    Limits,
    RunResult,
    Sandbox,
    SandboxConfig,
    TestOutcome,
    backend_names,
    check_relative_path,
    get_backend,
    is_refused,
    refused_files,
    refused_name,
    register_backend,
)

__all__ = [
    "REFUSED_NAMES",
    "Limits",
    "RunResult",
    "Sandbox",
    "SandboxConfig",
    "TestOutcome",
    "backend_names",
    "check_relative_path",
    "get_backend",
    "is_refused",
    "refused_files",
    "refused_name",
    "register_backend",
]

"""The sandbox interface: limits, results, the backend registry, refused files.

Nothing here imports `harness`; the arrows point harness -> sandboxes.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sandboxes.image import default_image_tag

# How a run executes the candidate (see README "Split execution"); a task's trusted
# tests opt out of the default with `harness_execution = "in_process"` (verdict.py).
MODES = ("split", "in_process")
DEFAULT_MODE = "split"
STATUSES = ("passed", "failed", "error", "timeout", "oom", "output_limit",
            "sandbox_error", "tamper_suspected")
OUTCOMES = ("passed", "failed", "error", "skipped", "missing")


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    memory_mb: int = 512
    pids: int = 64
    output_bytes: int = 1 << 20
    disk_mb: int = 64
    cpus: float = 1.0
    nofile: int = 256
    file_size_mb: int = 16

    # (minimum, maximum) for each field; a project may not ask for more.
    BOUNDS: ClassVar[dict[str, tuple[float, float]]] = {
        "wall_s": (0.5, 3600.0), "memory_mb": (32, 65536), "pids": (8, 4096),
        "output_bytes": (1024, 64 << 20), "disk_mb": (1, 16384), "cpus": (0.1, 64.0),
        "nofile": (16, 65536), "file_size_mb": (1, 16384),
    }

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"limits.{f.name}: expected a number, got {value!r}")
            if f.type == "int" and not isinstance(value, int):
                if float(value).is_integer():
                    object.__setattr__(self, f.name, int(value))
                else:
                    raise ValueError(f"limits.{f.name}: expected an integer, got {value!r}")
            low, high = self.BOUNDS[f.name]
            if not low <= value <= high:
                raise ValueError(f"limits.{f.name}: {value} is outside {low:g}..{high:g}")

    def key(self) -> str:
        """A stable string for deduplicating runs (same limits -> same key)."""
        return ",".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Limits:
        if not isinstance(d, Mapping):
            raise ValueError(f"limits: expected a mapping, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"limits: unknown key(s) {', '.join(map(str, unknown))}; "
                             f"expected some of {', '.join(sorted(names))}")
        return cls(**dict(d))


@dataclass
class TestOutcome:
    __test__ = False  # not a pytest class

    name: str
    outcome: str  # passed|failed|error|skipped|missing
    duration_s: float | None = None
    message: str = ""
    # A test of the task's hidden tests (set by the run queue, which knows which files
    # are hidden; the sandbox runs every trusted file alike).
    hidden: bool = False


@dataclass
class RunResult:
    status: str
    exit_code: int | None
    signal: int | None
    tests: list[TestOutcome]
    wall_s: float
    cpu_s: float | None
    peak_memory_bytes: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    backend: str
    image: str
    isolation: str  # "full" | "degraded"
    tamper: list[str] = field(default_factory=list)
    error: str | None = None
    # "split": the trusted tests ran in a judge process that never imported candidate
    # code; "in_process": candidate and tests shared one interpreter.
    integrity: str = "in_process"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def failure(cls, status: str, error: str, *, backend: str = "", image: str = "",
                isolation: str = "", wall_s: float = 0.0,
                tamper: Sequence[str] = ()) -> RunResult:
        """A run that produced no test outcomes: refused, or the sandbox failed.

        The one constructor for such results (the worker, the verdict policy and
        the backends use it), so a new field gets its default in one place.
        """
        return cls(status=status, exit_code=None, signal=None, tests=[], wall_s=wall_s,
                   cpu_s=None, peak_memory_bytes=None, stdout="", stderr="",
                   stdout_truncated=False, stderr_truncated=False, backend=backend,
                   image=image, isolation=isolation, tamper=list(tamper), error=error)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunResult:
        data = dict(d)
        data["tests"] = [t if isinstance(t, TestOutcome) else TestOutcome(**t)
                         for t in data.get("tests", [])]
        data["tamper"] = list(data.get("tamper", []))
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for t in self.tests:
            out[t.outcome] = out.get(t.outcome, 0) + 1
        return out


@dataclass(frozen=True)
class SandboxConfig:
    sandbox_dir: Path
    image_tag: str = field(default_factory=default_image_tag)


class SandboxUnavailable(Exception):
    """The backend cannot run here (engine down, bwrap missing, image not built)."""


class Sandbox(ABC):
    """One way of running untrusted code. Subclasses register with `register_backend`."""

    name: ClassVar[str]

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    @abstractmethod
    def check(self) -> tuple[bool, str]:
        """Whether this backend works here, and its isolation level or the reason not."""

    @abstractmethod
    def run(self, candidate_files: Mapping[str, str], test_files: Mapping[str, str],
            limits: Limits, *, mode: str = DEFAULT_MODE) -> RunResult:
        """Run the trusted tests against the candidate; never raises for candidate behaviour.

        `mode` "split": the tests run in a judge sandbox that never imports candidate
        code, the candidate's modules in a sandbox of their own; "in_process": both in
        one interpreter (for tests that need the candidate's internals)."""

    def available(self) -> bool:
        """A cheap yes/no for `auto` (the full check may run a probe)."""
        return self.check()[0]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Discard sandboxes started ahead of need (they are started again on use)."""

    def set_pool_size(self, size: int) -> None:  # noqa: B027 - optional hook
        """How many sandboxes to keep started ahead of need per limits set (0: none)."""

    def settle(self) -> None:  # noqa: B027 - optional hook
        """Wait until no sandbox is being started or torn down in the background and
        the runners of those waiting are up (steady state: what benchmarks time from)."""

    def waiting_resources(self) -> dict[str, set[str]]:
        """Host resources of sandboxes started ahead of need and not yet used
        (keys: containers, stages, cgroups, pids); tests tell them from leftovers."""
        return {}


_BACKENDS: dict[str, type[Sandbox]] = {}


def register_backend(cls: type[Sandbox]) -> type[Sandbox]:
    _BACKENDS[cls.name] = cls
    return cls


def backend_names() -> list[str]:
    _load_builtin_backends()
    return sorted(_BACKENDS)


def _load_builtin_backends() -> None:
    import sandboxes.backends  # noqa: F401 - registers the built-in backends


_INSTANCES: dict[tuple[str, SandboxConfig], Sandbox] = {}


def get_backend(name: str, config: SandboxConfig) -> Sandbox:
    """A backend by name; `auto` is docker when an engine answers, else bwrap.

    Instances are shared per (name, config) so pools and engine clients are reused.
    """
    _load_builtin_backends()
    if name == "auto":
        docker = get_backend("docker", config)
        return docker if docker.available() else get_backend("bwrap", config)
    if name not in _BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r}; expected auto or one of "
                         f"{', '.join(sorted(_BACKENDS))}")
    key = (name, config)
    if key not in _INSTANCES:
        _INSTANCES[key] = _BACKENDS[name](config)
    return _INSTANCES[key]


def shared_backends() -> list[Sandbox]:
    """The backends `get_backend` has handed out in this process (each with its pools)."""
    return list(_INSTANCES.values())


def close_backends() -> None:
    """Close every shared backend: spares started ahead of need are discarded and their
    teardown awaited; the next `get_backend` starts afresh."""
    while _INSTANCES:
        _key, backend = _INSTANCES.popitem()
        backend.close()


# -- file names: inside the work dir, and not shadowing the runner -------------


UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories refused in file names: controls, formatting (bidi overrides,
zero-width), surrogates, private use, unassigned, line and paragraph separators."""
MAX_PATH_CHARS = 1024


def check_relative_path(path: str) -> str:
    """A file name of a task or candidate: relative, forward slashes, no '..', no NUL,
    no control or invisible formatting characters (a newline would forge lines of
    pytest's report; a right-to-left override disguises a name on the review page),
    each part within the 255 bytes a Linux file name may take.

    The one rule for file names: the task file's schema (harness.taskfile) checks
    it at import, the sandbox again before it writes a file (`sandboxes.staging`).
    """
    if not path or path != path.strip():
        raise ValueError(f"file path {path!r} is empty or has surrounding spaces")
    if "\\" in path or "\x00" in path:
        raise ValueError(f"file path {path!r} may not contain backslashes or NUL")
    # isprintable() holds for none of UNPRINTABLE's categories: the test per character
    # is for the rest (a no-break space, say), not for the common name
    if not path.isprintable() and any(unicodedata.category(ch) in UNPRINTABLE for ch in path):
        raise ValueError(f"file path {path!r} may not contain control or invisible "
                         "formatting characters")
    if len(path) > MAX_PATH_CHARS or any(len(p.encode()) > 255 for p in path.split("/")):
        raise ValueError(f"file path {path[:60]!r}... is too long (at most {MAX_PATH_CHARS} "
                         "characters, 255 bytes a part)")
    if path.startswith(("/", "~")):
        raise ValueError(f"file path {path!r} must be relative")
    if any(part in ("..", ".", "") for part in path.split("/")):
        raise ValueError(f"file path {path!r} may not contain '..', '.' or empty parts")
    return path


# Any of these could change how pytest or Python start up, collect or report
# (conftest hooks, ini options, site hooks, path hooks) or shadow the runner's
# own imports. pyproject.toml is not refused: the runner passes its own ini
# file with -c, so pytest never reads a candidate's pyproject.toml. The one list:
# the verdict policy refuses such candidates, the gaming rules show it as a hint.
REFUSED_NAMES = frozenset({
    "conftest.py", "pytest.ini", ".pytest.ini", "setup.cfg", "tox.ini",
    "sitecustomize.py", "usercustomize.py",
    "pytest.py", "_pytest", "pluggy", "py.py", "_harness_runner.py", "_harness_split.py",
})
REFUSED_DIRS = frozenset({"_pytest", "pluggy"})
REFUSED_SUFFIXES = (".pth",)


def refused_name(path: str) -> str | None:
    """The part of `path` that shadows the runner (e.g. `conftest.py`, `x.pth`,
    `_pytest`), or None for an ordinary file."""
    parts = [p for p in posixpath.normpath(path.replace("\\", "/")).split("/") if p]
    if not parts:
        return None
    base = parts[-1]
    if base in REFUSED_NAMES or base.endswith(REFUSED_SUFFIXES):
        return base
    return next((p for p in parts[:-1] if p in REFUSED_DIRS), None)


def is_refused(path: str) -> bool:
    return refused_name(path) is not None


def refused_files(files: Mapping[str, str]) -> list[str]:
    return sorted(name for name in files if is_refused(name))

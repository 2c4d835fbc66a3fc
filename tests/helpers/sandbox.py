"""The real sandbox backends for tests/sandbox, tests/hostile and tests/runs.

Backends are real: when docker or bwrap does not work here a test FAILS with
the reason (CI installs and starts both via sandboxes/host-setup.sh).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import REPO
from sandboxes import cgroups, image, owners
from sandboxes.base import Sandbox, SandboxConfig, get_backend, shared_backends
from sandboxes.pool import Reaper
from sandboxes.staging import STAGE_PREFIX

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker),
            pytest.param("bwrap", marks=pytest.mark.bwrap)]

PASSING_TESTS = {"test_solution.py": "from solution import add\n\n\n"
                                     "def test_add():\n    assert add(1, 2) == 3\n\n\n"
                                     "def test_add_neg():\n    assert add(-1, -2) == -3\n"}
GOOD = {"solution.py": "def add(a, b):\n    return a + b\n"}
BAD = {"solution.py": "def add(a, b):\n    return a - b\n"}


def sandbox_dir() -> Path:
    raw = os.environ.get("HARNESS_SANDBOX_DIR")
    return Path(raw).resolve() if raw else REPO / ".cache" / "sandbox"


def config() -> SandboxConfig:
    return SandboxConfig(sandbox_dir=sandbox_dir())


_checked: dict[str, tuple[bool, str]] = {}


def require_backend(name: str) -> Sandbox:
    """The backend, or a test failure saying why it does not work here."""
    cfg = config()
    if not image.paths_for(cfg.sandbox_dir).rootfs_ready():
        pytest.fail(f"sandbox rootfs not built in {cfg.sandbox_dir}; run "
                    "HARNESS_SANDBOX_DIR=... sandboxes/host-setup.sh", pytrace=False)
    sb = get_backend(name, cfg)
    if name not in _checked:
        _checked[name] = sb.check()
    ok, detail = _checked[name]
    if not ok:
        pytest.fail(f"sandbox backend {name} does not work here: {detail}", pytrace=False)
    return sb


@dataclass
class HostState:
    """What a run may leave on the host: containers, cgroups, stage dirs, nobody's processes."""

    containers: set[str]
    cgroups: set[str]
    stages: set[str]
    nobody_pids: set[int]


def _our_sandbox_pids(our_containers: set[str], waiting_groups: set[str]) -> set[int]:
    """Live processes in this test process's run cgroups or its (non-pooled) containers.

    Other harness processes (a server, another test run) may use the same host,
    so only what this process started is looked at.
    """
    mine = f"{cgroups.PARENT}/{owners.local_tag()}-"
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            continue
        if "State:\tZ" in status:
            continue
        if any(f"/{name}\n" in cgroup for name in waiting_groups):
            continue
        if mine in cgroup or any(cid in cgroup for cid in our_containers):
            pids.add(int(entry.name))
    return pids


def host_state(sb: Sandbox) -> HostState:
    """What this process's runs have on the host now (sandboxes started ahead of need
    and not yet used are excluded). Every backend's teardown in this process is awaited:
    the staging dirs of docker and bwrap runs carry the same owner tag."""
    # every backend of this process: a bwrap spare started in the background is in a
    # cgroup with the same owner tag as a docker run's staging, and is nobody's leftover
    backends = [sb, *(b for b in shared_backends() if b is not sb)]
    for backend in backends:
        backend.settle()
    Reaper.settle_all()
    waiting: dict[str, set[str]] = {}
    for backend in backends:
        for kind, items in backend.waiting_resources().items():
            waiting.setdefault(kind, set()).update(items)
    containers: set[str] = set()
    if sb.name == "docker":
        containers = {c.id for c in sb.client.containers.list(  # type: ignore[attr-defined]
            all=True, filters={"label": f"review-harness.sandbox.owner={owners.owner_id()}"})}
        containers -= waiting.get("containers", set())
    prefix = f"{STAGE_PREFIX}{owners.local_tag()}-"
    stages = {str(p) for p in Path(tempfile.gettempdir()).glob(prefix + "*")}
    groups = {str(p) for p in cgroups.leftover_groups()
              if p.name.startswith(f"{owners.local_tag()}-")}
    waiting_groups = waiting.get("cgroups", set())
    pids = _our_sandbox_pids(containers, {Path(g).name for g in waiting_groups})
    return HostState(containers=containers, cgroups=groups - waiting_groups,
                     stages=stages - waiting.get("stages", set()), nobody_pids=pids)


def assert_clean(sb: Sandbox, before: HostState | None = None, grace_s: float = 20.0) -> None:
    """Nothing of any finished run is left on the host.

    Teardown runs off the run's path (the backend's reaper), and killing a group of
    thousands of threads takes a while on a loaded host: leftovers get `grace_s` to go.
    """
    base = before or HostState(set(), set(), set(), set())
    deadline = time.monotonic() + grace_s
    state = host_state(sb)
    while time.monotonic() < deadline and (
        state.containers - base.containers or state.cgroups - base.cgroups
        or state.stages - base.stages or state.nobody_pids - base.nobody_pids
    ):
        time.sleep(0.2)
        state = host_state(sb)
    assert state.containers - base.containers == set(), "containers left behind"
    assert state.cgroups - base.cgroups == set(), "cgroups left behind"
    assert state.stages - base.stages == set(), "staging dirs left behind"
    assert state.nobody_pids - base.nobody_pids == set(), "sandbox processes left behind"

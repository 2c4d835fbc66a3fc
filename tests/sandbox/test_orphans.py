"""A harness process killed mid-run leaves nothing that the next one does not sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from helpers import REPO
from helpers.sandbox import config, require_backend, sandbox_dir

from sandboxes import cgroups, owners
from sandboxes.backends.bwrap import BwrapSandbox
from sandboxes.backends.docker import LABEL, DockerSandbox
from sandboxes.base import Limits
from sandboxes.staging import STAGE_PREFIX, sweep_stages

CRASHER = textwrap.dedent("""
    import os, signal, sys, threading
    from pathlib import Path
    from sandboxes.base import Limits, SandboxConfig, get_backend

    cfg = SandboxConfig(Path(sys.argv[1]))
    tests = {"test_solution.py": "from solution import run\\n\\ndef test_run():\\n    run()\\n"}
    slow = {"solution.py": "import time\\ndef run():\\n    time.sleep(60)\\n"}
    for name in ("docker", "bwrap"):
        sb = get_backend(name, cfg)
        sb.settle()
        threading.Thread(target=sb.run, args=(slow, tests, Limits(wall_s=60)),
                         daemon=True).start()
    import time
    time.sleep(3)  # runs in progress, sandboxes started ahead of need waiting
    from sandboxes import owners
    print("ready", os.getpid(), owners.local_tag(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.docker
@pytest.mark.bwrap
def test_leftovers_of_a_killed_harness_are_swept() -> None:
    require_backend("docker")
    require_backend("bwrap")
    proc = subprocess.run([sys.executable, "-c", CRASHER, str(sandbox_dir())],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "ready" in proc.stdout
    dead, tag = proc.stdout.split()[1:3]
    docker_sb = DockerSandbox(config(), pool_size=0)
    assert docker_sb.client.containers.list(all=True, filters={"label": f"{LABEL}.pid={dead}"})
    groups = [g for g in cgroups.leftover_groups() if g.name.startswith(f"{tag}-")]
    stages = list(Path(tempfile.gettempdir()).glob(f"{STAGE_PREFIX}{tag}-*"))
    assert groups and stages

    assert docker_sb.sweep_orphans() >= 1
    cgroups.sweep_orphans()
    sweep_stages()

    assert not [c for c in docker_sb.client.containers.list(all=True, filters={
        "label": f"{LABEL}.pid={dead}"})]
    assert not [g for g in cgroups.leftover_groups() if g.name.startswith(f"{tag}-")]
    assert not list(Path(tempfile.gettempdir()).glob(f"{STAGE_PREFIX}{tag}-*"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        runners = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                   and _in_dead_group(p, tag)]
        if not runners:
            break
        time.sleep(0.1)
    assert not runners
    BwrapSandbox(config(), pool_size=0).close()


def _in_dead_group(proc: Path, dead: str) -> bool:
    try:
        return f"/{dead}-" in (proc / "cgroup").read_text() and os.path.exists(proc)
    except OSError:
        return False


@pytest.mark.bwrap
def test_a_group_left_frozen_by_a_killed_harness_is_thawed_killed_and_removed() -> None:
    if cgroups.version() != 1:
        pytest.skip("the freezer controller is cgroup v1 only (v2 uses cgroup.kill)")
    dead_pid = _dead_pid()
    group = cgroups.create(f"{dead_pid}-frozen", 64 << 20, 16, 0.5)
    victim = subprocess.Popen(["sleep", "300"])
    try:
        for procs in group.procs_files:
            Path(procs).write_text(str(victim.pid))
        assert group.freezer_dir is not None
        (group.freezer_dir / "freezer.state").write_text("FROZEN")
        assert cgroups.sweep_orphans() >= 1
        assert victim.wait(timeout=5) == -signal.SIGKILL
        assert not [g for g in cgroups.leftover_groups() if g.name == f"{dead_pid}-frozen"]
    finally:
        victim.kill()
        victim.wait()
        group.remove()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.docker
def test_a_container_whose_creation_fails_half_way_is_removed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from docker.models.containers import ContainerCollection

    require_backend("docker")
    sb = DockerSandbox(config(), pool_size=0)
    mine = {"label": f"{LABEL}.owner={owners.owner_id()}"}
    before = {c.id for c in sb.client.containers.list(all=True, filters=mine)}
    stages_before = set(Path(tempfile.gettempdir()).glob(f"{STAGE_PREFIX}{owners.local_tag()}-*"))

    def broken_get(self: object, container_id: str) -> None:
        raise RuntimeError(f"engine went away while looking up {container_id}")

    monkeypatch.setattr(ContainerCollection, "get", broken_get)
    with pytest.raises(RuntimeError, match="engine went away"):
        sb._create(Limits())  # noqa: SLF001 - the path under test
    monkeypatch.undo()
    after = {c.id for c in sb.client.containers.list(all=True, filters=mine)}
    assert after - before == set(), "the half-created container was left behind"
    assert set(Path(tempfile.gettempdir()).glob(f"{STAGE_PREFIX}{owners.local_tag()}-*")) \
        <= stages_before

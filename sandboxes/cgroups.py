"""Per-run cgroups for the bwrap backend (v1 or v2, whichever the machine mounts).

Each run gets its own group under `harness-sandbox/` for memory, pids, CPU
(and, on v1, cpuacct and freezer). The process is moved into the group before
it execs bwrap, so everything the sandbox ever forks is inside. Teardown kills
the whole group: on v1 it is frozen, every member gets SIGKILL, then thawed;
on v2 `cgroup.kill` does the same in the kernel.

Group names carry the owning harness process (`<pid>.<start>-<hex>`, see
sandboxes.owners), so groups left by a harness that died are swept when a new
backend starts, and never those of another live harness process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from sandboxes import owners

ROOT = Path("/sys/fs/cgroup")
PARENT = "harness-sandbox"
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "freezer")


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _v1_mounts() -> dict[str, Path] | None:
    mounts: dict[str, Path] = {}
    for ctrl in V1_CONTROLLERS:
        candidates = [ROOT / ctrl, ROOT / "cpu,cpuacct"] if ctrl.startswith("cpu") \
            else [ROOT / ctrl]
        found = next((p for p in candidates if (p / "cgroup.procs").exists()), None)
        if found is None:
            return None
        mounts[ctrl] = found
    return mounts


def version() -> int | None:
    """1 or 2 when usable groups can be made here, else None."""
    if _v1_mounts() is not None and (ROOT / "memory/memory.limit_in_bytes").exists():
        return 1
    if (ROOT / "cgroup.controllers").exists():
        return 2
    return None


@dataclass
class RunCgroup:
    """The group(s) of one run."""

    version: int
    dirs: list[Path]  # one per distinct hierarchy
    memory_dir: Path
    pids_dir: Path
    cpu_dir: Path  # v1: cpuacct dir (usage); v2: the group
    freezer_dir: Path | None

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs:
            out |= {int(x) for x in _read(d / "cgroup.procs").split()}
        return out

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every member, repeatedly, until the group is empty."""
        deadline = time.monotonic() + timeout
        if self.version == 2 and (self.memory_dir / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.memory_dir / "cgroup.kill", "1")
        while True:
            members = self.pids()
            if not members:
                return True
            if self.freezer_dir is not None:
                with contextlib.suppress(OSError):
                    _write(self.freezer_dir / "freezer.state", "FROZEN")
            try:
                for pid in members:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
            finally:
                if self.freezer_dir is not None:
                    with contextlib.suppress(OSError):
                        _write(self.freezer_dir / "freezer.state", "THAWED")
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def stats(self) -> tuple[float | None, int | None, int]:
        """(cpu seconds, peak memory bytes, OOM kills)."""
        cpu: float | None = None
        peak: int | None = None
        ooms = 0
        if self.version == 1:
            raw = _read(self.cpu_dir / "cpuacct.usage").strip()
            cpu = int(raw) / 1e9 if raw else None
            raw = _read(self.memory_dir / "memory.max_usage_in_bytes").strip()
            peak = int(raw) if raw else None
            for line in _read(self.memory_dir / "memory.oom_control").splitlines():
                if line.startswith("oom_kill "):
                    ooms = int(line.split()[1])
        else:
            for line in _read(self.cpu_dir / "cpu.stat").splitlines():
                if line.startswith("usage_usec "):
                    cpu = int(line.split()[1]) / 1e6
            raw = _read(self.memory_dir / "memory.peak").strip()
            peak = int(raw) if raw.isdigit() else None
            for line in _read(self.memory_dir / "memory.events").splitlines():
                if line.startswith("oom_kill "):
                    ooms = int(line.split()[1])
        return cpu, peak, ooms

    def remove(self) -> None:
        self.kill()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _v1_create(name: str, memory: int, pids: int, cpus: float) -> RunCgroup:
    mounts = _v1_mounts()
    assert mounts is not None
    made: dict[Path, Path] = {}
    for mount in dict.fromkeys(mounts.values()):
        d = mount / PARENT / name
        d.mkdir(parents=True)
        made[mount] = d
    try:
        mem = made[mounts["memory"]]
        _write(mem / "memory.limit_in_bytes", str(memory))
        if (mem / "memory.memsw.limit_in_bytes").exists():
            _write(mem / "memory.memsw.limit_in_bytes", str(memory))
        with contextlib.suppress(OSError):
            _write(mem / "memory.swappiness", "0")
        _write(made[mounts["pids"]] / "pids.max", str(pids))
        cpu = made[mounts["cpu"]]
        _write(cpu / "cpu.cfs_period_us", "100000")
        _write(cpu / "cpu.cfs_quota_us", str(max(1000, int(cpus * 100000))))
    except OSError:
        for d in made.values():
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return RunCgroup(1, list(made.values()), mem, made[mounts["pids"]],
                     made[mounts["cpuacct"]], made[mounts["freezer"]])


def _v2_create(name: str, memory: int, pids: int, cpus: float) -> RunCgroup:
    parent = ROOT / PARENT
    wanted = ["memory", "pids", "cpu"]
    available = _read(ROOT / "cgroup.controllers").split()
    if not set(wanted) <= set(available):
        raise OSError(f"cgroup v2 lacks controllers: {set(wanted) - set(available)}")
    enable = " ".join("+" + c for c in wanted)
    _write(ROOT / "cgroup.subtree_control", enable)
    parent.mkdir(exist_ok=True)
    _write(parent / "cgroup.subtree_control", enable)
    d = parent / name
    d.mkdir()
    try:
        _write(d / "memory.max", str(memory))
        if (d / "memory.swap.max").exists():
            _write(d / "memory.swap.max", "0")
        _write(d / "pids.max", str(pids))
        _write(d / "cpu.max", f"{max(1000, int(cpus * 100000))} 100000")
    except OSError:
        d.rmdir()
        raise
    return RunCgroup(2, [d], d, d, d, None)


def create(name: str, memory: int, pids: int, cpus: float) -> RunCgroup:
    """A new group; raises OSError when none can be made here."""
    v = version()
    if v == 1:
        return _v1_create(name, memory, pids, cpus)
    if v == 2:
        return _v2_create(name, memory, pids, cpus)
    raise OSError("no cgroup v1 memory/pids/cpu/freezer mounts and no cgroup v2 here")


def leftover_groups() -> list[Path]:
    """Run groups present now (any owner)."""
    v = version()
    bases: list[Path] = []
    if v == 1:
        mounts = _v1_mounts() or {}
        bases = [m / PARENT for m in dict.fromkeys(mounts.values())]
    elif v == 2:
        bases = [ROOT / PARENT]
    return [d for b in bases if b.is_dir() for d in b.iterdir() if d.is_dir()]


def sweep_orphans() -> int:
    """Kill and remove groups whose owning harness process is gone; returns how many.

    A harness killed between freezing and thawing a group leaves it frozen, with
    SIGKILL pending; so every leftover is thawed after the kill.
    """
    dead = [d for d in leftover_groups() if not owners.local_name_alive(d.name)]
    for _ in range(3):
        for d in dead:
            for pid in {int(x) for x in _read(d / "cgroup.procs").split()}:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for d in dead:
            if (d / "freezer.state").exists():
                with contextlib.suppress(OSError):
                    _write(d / "freezer.state", "THAWED")
        if not any(_read(d / "cgroup.procs").split() for d in dead):
            break
        time.sleep(0.05)
    removed = 0
    for d in dead:
        for _ in range(20):
            try:
                d.rmdir()
                removed += 1
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)
    return removed

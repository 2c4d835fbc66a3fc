"""How a bwrap sandbox is confined, apart from the processes it confines.

Split out of sandboxes/backends/bwrap.py so that what a sandbox can see and do
can be read in one place, apart from how its processes are started, timed,
captured and torn down (bwrap.py, which also owns the per-run cgroup). This
module owns:

- bwrap's command line: every namespace unshared, no capabilities, uid 65534 in
  the sandbox, a cleared environment, and the mounts (with the offline rootfs
  built, it is bound read-only as `/`; otherwise only the host's system dirs
  are, never /root, /home, /tmp or the data dir; size-capped tmpfs for /tmp,
  /work and /dev/shm; the stage's /in read-only and its report file);
- the seccomp program (built by sandboxes.seccomp) and handing it and the
  options to bwrap on memory file descriptors;
- what the child does between fork and exec: join the run's cgroup, take the
  rlimits, drop to the sandbox's uid on the host.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Callable, Iterator
from pathlib import Path

from sandboxes import seccomp
from sandboxes.base import Limits
from sandboxes.staging import (
    CANDIDATE_ARGV,
    RUNNER_ARGV,
    SANDBOX_ENV,
    SANDBOX_TMP,
    SANDBOX_UID,
    Stage,
)

HOST_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
HOST_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                  "/etc/alternatives", "/etc/localtime", "/etc/nsswitch.conf")


def child_setup(procs_files: list[str], limits: Limits,
                uid: int = SANDBOX_UID) -> Callable[[], None]:
    """Runs in the child between fork and exec: join the cgroup, set limits, drop to nobody.

    Only os/resource calls (no locks), so it is safe in a threaded parent.
    Without a cgroup (degraded isolation) the address space is capped per process
    and RLIMIT_NPROC stands in for the pids limit. The kernel counts RLIMIT_NPROC
    per real uid, so every process and thread of uid 65534 on the host (other
    sandboxes included) counts against it: a cap, not an exact per-run limit.
    The CPU limit then does not apply, the wall time still does.
    """
    nofile = limits.nofile
    fsize = limits.file_size_mb << 20
    address_space = (limits.memory_mb << 20) + (256 << 20) if not procs_files else None
    nproc = limits.pids if not procs_files else None

    def setup() -> None:
        pid = str(os.getpid()).encode()
        for path in procs_files:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, pid)
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return setup


def seccomp_program() -> bytes | None:
    """The seccomp program, or None where it cannot be built (isolation degraded)."""
    try:
        return seccomp.filter_program()
    except seccomp.SeccompUnavailable:
        return None


def mounts(root: Path | None, stage: Stage, limits: Limits, report: bool = True) -> list[str]:
    """bwrap's mount options: `root` (the built rootfs) read-only as `/`, or the host's
    system dirs when none is built; `report`: bind the stage's report file (the
    candidate process of split execution writes none)."""
    size = str(limits.disk_mb << 20)
    args: list[str] = []
    if root is not None:
        args += ["--ro-bind", str(root), "/"]
    else:
        for d in HOST_SYSTEM_DIRS:
            if os.path.islink(d):
                args += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                args += ["--ro-bind", d, d]
        for f in HOST_ETC_FILES:
            if os.path.exists(f):
                args += ["--ro-bind", f, f]
    # No /proc: its mountinfo would name every bind's source by its host path (the
    # rootfs, the staging dir), which an unprivileged bwrap cannot rename, and
    # neither the runner nor pytest needs it. bwrap's /dev is a tmpfs of its own:
    # without a cap and read-only it would be writable storage outside disk_mb. Its
    # device nodes are bind mounts of their own, so /dev/null etc. stay writable
    # after the remount.
    args += ["--dev", "/dev",
             "--size", size, "--tmpfs", "/dev/shm",  # noqa: S108 - inside the sandbox
             "--remount-ro", "/dev",
             "--size", size, "--tmpfs", SANDBOX_TMP,
             "--size", size, "--tmpfs", "/work",
             "--ro-bind", str(stage.in_dir), "/in"]
    if report:
        args += ["--bind", str(stage.report), "/results/report.json"]
    if root is None:
        args += ["--remount-ro", "/"]
    return args


def command(root: Path | None, stage: Stage, limits: Limits,
            candidate: bool = False) -> list[str]:
    """The whole bwrap command line (without the seccomp program), ending in the
    runner's argv (`candidate`: the candidate process's)."""
    env: list[str] = []
    for k, v in SANDBOX_ENV.items():
        env += ["--setenv", k, v]
    return ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--unshare-user", "--hostname", "sandbox", "--cap-drop", "ALL", "--disable-userns",
            *mounts(root, stage, limits, report=not candidate), "--chdir", "/work",
            "--clearenv", *env, *(CANDIDATE_ARGV if candidate else RUNNER_ARGV)]


def _memfd(name: str, data: bytes) -> int:
    """A sealed-size in-memory file holding `data`, positioned at its start."""
    fd = os.memfd_create(name, 0)
    try:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def invocation(root: Path | None, stage: Stage, limits: Limits,
               candidate: bool = False) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """The argv to spawn bwrap with and the descriptors it must inherit (the seccomp
    program, when it can be built, and the options); they are closed on leaving,
    when the spawned child holds its own copies."""
    argv = command(root, stage, limits, candidate)
    extra: list[int] = []
    try:
        program = seccomp_program()
        if program is not None:
            extra.append(_memfd("harness-seccomp", program))
            argv[1:1] = ["--seccomp", str(extra[-1])]
        # The arguments (host paths among them) reach bwrap on a descriptor, so
        # the sandbox's /proc/1/cmdline shows none of them.
        run = CANDIDATE_ARGV if candidate else RUNNER_ARGV
        options = argv[1:len(argv) - len(run)]
        extra.append(_memfd("harness-args", b"".join(
            a.encode() + b"\0" for a in options)))
        yield ["bwrap", "--args", str(extra[-1]), *run], tuple(extra)
    finally:
        for fd in extra:
            os.close(fd)

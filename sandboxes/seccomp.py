"""The bwrap backend's seccomp filter, close to Docker's default profile.

Built with libseccomp's Python bindings (Debian `python3-seccomp`, installed by
sandboxes/host-setup.sh and `make system-base`) and handed to bwrap as a BPF
program on a file descriptor (`--seccomp FD`); bwrap applies it right before it
execs the sandboxed process, after its own mount/namespace setup. Every syscall
is allowed except those below, which fail with EPERM (clone3 with ENOSYS, so
libc falls back to clone, whose namespace flags are refused): tracing other
processes, reading or writing their memory, mounts, namespaces, keyrings, BPF,
perf, kexec, kernel modules, clocks, swap, reboot. Syscalls of another
architecture (a 32-bit `int 0x80` on x86_64) kill the process (libseccomp's
bad-architecture default).

The bindings are a module of the distribution's Python; when the harness runs
under another interpreter (a venv of another build), the filter is built by
running the system's python3 once, which prints the program.
"""

from __future__ import annotations

import functools
import subprocess

SYSTEM_PYTHON = "/usr/bin/python3"

DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "unshare", "setns", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "swapon", "swapoff", "reboot", "acct", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "stime", "syslog", "quotactl",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "userfaultfd",
    "iopl", "ioperm", "vhangup", "nfsservctl", "get_kernel_syms", "query_module",
    "uselib", "ustat", "sysfs", "_sysctl", "personality",
)
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
                   0x20000000, 0x40000000, 0x00000080)

BUILDER = """
import errno, os, seccomp, sys
denied, flags = sys.argv[1].split(","), [int(f) for f in sys.argv[2].split(",")]
f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
for name in denied:
    try:
        f.add_rule(seccomp.ERRNO(errno.EPERM), name)
    except (RuntimeError, ValueError):
        pass  # not a syscall on this architecture
for flag in flags:
    f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
try:
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
except (RuntimeError, ValueError):
    pass
r, w = os.pipe()
f.export_bpf(os.fdopen(w, "wb", closefd=False))
os.close(w)
sys.stdout.buffer.write(os.read(r, 1 << 20))
"""


class SeccompUnavailable(Exception):
    """No filter can be built here (python3-seccomp is not installed)."""


def filter_program() -> bytes:
    """The BPF program (built once per process); raises SeccompUnavailable."""
    program = _build()
    if isinstance(program, str):
        raise SeccompUnavailable(program)
    return program


@functools.cache
def _build() -> bytes | str:
    args = [",".join(DENIED), ",".join(map(str, NAMESPACE_FLAGS))]
    try:
        proc = subprocess.run(  # noqa: S603 - fixed program and arguments
            [SYSTEM_PYTHON, "-I", "-c", BUILDER, *args], capture_output=True, timeout=30,
            check=False, stdin=subprocess.DEVNULL, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no seccomp filter: cannot run {SYSTEM_PYTHON}: {exc}"
    if proc.returncode != 0 or not proc.stdout or len(proc.stdout) % 8:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return (f"no seccomp filter: {reason[0]} (install python3-seccomp: "
                "apt-get install -y python3-seccomp)")
    return proc.stdout


def available() -> tuple[bool, str]:
    try:
        program = filter_program()
    except SeccompUnavailable as exc:
        return False, str(exc)
    return True, f"seccomp filter of {len(program) // 8} instructions"

"""bwrap's seccomp filter: tracing, namespaces, mounts and kernel interfaces are refused."""

from __future__ import annotations

import pytest
from helpers.sandbox import require_backend

from sandboxes import seccomp
from sandboxes.base import Limits

pytestmark = pytest.mark.bwrap

PROBE = {"solution.py": (
    "import ctypes, errno, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def errno_of(rc):\n"
    "    return 0 if rc == 0 else ctypes.get_errno()\n"
    "def probe():\n"
    "    return {\n"
    "        'ptrace_traceme': errno_of(libc.ptrace(0, 0, None, None)),\n"
    "        'ptrace_attach_init': errno_of(libc.ptrace(16, 1, None, None)),\n"
    "        'unshare_user': errno_of(libc.unshare(0x10000000)),\n"
    "        'unshare_mount': errno_of(libc.unshare(0x00020000)),\n"
    "        'keyctl': errno_of(libc.syscall(250, 0, 0, 0, 0, 0)),\n"
    "        'bpf': errno_of(libc.syscall(321, 0, 0, 0)),\n"
    "        'perf_event_open': errno_of(libc.syscall(298, 0, 0, -1, -1, 0)),\n"
    "        'getpid': errno_of(0 if os.getpid() > 0 else 1),\n"
    "    }\n"
    "def cmdline():\n"
    "    try:\n"
    "        return open('/proc/1/cmdline', 'rb').read().decode(errors='replace')\n"
    "    except OSError as exc:\n"
    "        return type(exc).__name__\n")}
TESTS = {"test_solution.py": (
    "import errno\n"
    "from solution import cmdline, probe\n\n"
    "def test_refused():\n"
    "    got = probe()\n"
    "    print(got)\n"
    "    assert got.pop('getpid') == 0\n"
    "    assert got == {name: errno.EPERM for name in got}\n\n"
    "def test_init_shows_no_host_paths():\n"
    "    seen = cmdline()\n"
    "    print(repr(seen))\n"
    "    assert seen == 'FileNotFoundError'  # no /proc in the sandbox\n")}


def test_the_filter_is_built_here() -> None:
    ok, detail = seccomp.available()
    assert ok, detail


@pytest.mark.parametrize("mode", ["split", "in_process"])
def test_ptrace_namespaces_and_kernel_interfaces_are_refused(mode: str) -> None:
    sb = require_backend("bwrap")
    result = sb.run(PROBE, TESTS, Limits(wall_s=10), mode=mode)
    assert result.isolation == "full"
    assert result.status == "passed", (result.status, result.error, result.stdout[-3000:])

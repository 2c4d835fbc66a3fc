"""What /proc/self/mountinfo shows inside a sandbox (issue 12, the open point on host
paths). A bind mount's line names its source's path on the host filesystem; neither
bwrap (unprivileged) nor Docker can rename it, so the sandbox shows the sources' paths:
the rootfs (bwrap) or Docker's own storage, and the run's staging dir (/in and the
report file). sandboxes/README.md says why they stay. What holds, and is checked
here on both backends and in both modes: no other host path is mounted, so a new bind
of anything else (the data dir, a home, the host's /tmp) fails this test."""

from __future__ import annotations

import re
import tempfile

import pytest
from helpers.sandbox import BACKENDS, require_backend, sandbox_dir

from harness.runs import run_candidate
from sandboxes.base import Limits
from sandboxes.staging import STAGE_PREFIX

TESTS = {"test_m.py": "def test_m():\n"
                      "    print('MOUNTS<<' + open('/proc/self/mountinfo').read() + '>>')\n"
                      "    assert False\n"}
# The candidate process of split mode reads its own (it is a sandbox of its own).
CANDIDATE = {"solution.py": "def mounts():\n    return open('/proc/self/mountinfo').read()\n"}
CANDIDATE_TESTS = {"test_m.py": "from solution import mounts\n\n\ndef test_m():\n"
                                "    print('MOUNTS<<' + mounts() + '>>')\n    assert False\n"}
DOCKER_STORAGE = ("/var/lib/docker/",)
VIRTUAL = frozenset({"proc", "tmpfs", "devtmpfs", "devpts", "sysfs", "cgroup", "cgroup2",
                     "mqueue"})
"""Filesystems with no host paths (their roots are inside themselves)."""


def _sources(stdout: str) -> set[str]:
    found = re.search(r"MOUNTS<<(.*)>>", stdout, re.S)
    assert found, stdout
    sources = set()
    for line in found.group(1).splitlines():
        fields = line.split()
        root, after = fields[3], line.split(" - ", 1)[1]
        fstype, options = after.split()[0], after
        if fstype in VIRTUAL:
            continue
        sources.add(root)
        sources.update(re.findall(r"(?:lowerdir|upperdir|workdir)=([^,\s]+)", options))
    return {p for s in sources for p in s.split(":")}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("mode", "side"), [("split", "judge"), ("split", "candidate"),
                                            ("in_process", "judge")])
def test_mountinfo_shows_no_host_path_but_the_rootfs_and_the_runs_own(
        backend: str, mode: str, side: str) -> None:
    sandbox = require_backend(backend)
    files, tests = (CANDIDATE, CANDIDATE_TESTS) if side == "candidate" else (
        {"solution.py": "x = 1\n"}, TESTS)
    result = run_candidate(files, tests, Limits(), sandbox, mode=mode)
    assert result.status == "failed", result
    stages = str(tempfile.gettempdir()).rstrip("/") + "/" + STAGE_PREFIX
    allowed = (str(sandbox_dir()) + "/rootfs-", stages, *DOCKER_STORAGE)
    host = {p for p in _sources(result.stdout) if p != "/"}
    assert host, "the sandbox should show its bind sources"
    assert [p for p in host if not p.startswith(allowed)] == []

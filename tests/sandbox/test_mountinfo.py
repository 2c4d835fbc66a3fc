"""What a sandbox can learn of the host's paths through /proc (issue 12: "/proc shows
no host paths").

bwrap: the sandbox has no /proc at all. A bind mount's line in mountinfo names its
source by its path on the host filesystem (the rootfs, the run's staging dir), which an
unprivileged bwrap cannot rename, so the file is not there to read; nor is
/proc/1/cmdline, /proc/self/environ, /proc/self/exe or /etc/mtab (a link into /proc).
Checked in both modes, in the judge and in split mode's candidate process: a candidate
that tries every one of those and prints what it got shows no host path.

Docker: runc always mounts /proc, and mountinfo shows the engine's own storage
(`/var/lib/docker/...`, the overlay's lowerdir) and the run's staging dir. What holds
there: no other host path is mounted, so a new bind of anything else (the data dir, a
home, the host's /tmp) fails this test. sandboxes/README.md says why."""

from __future__ import annotations

import re
import tempfile

import pytest
from helpers import REPO
from helpers.sandbox import require_backend, sandbox_dir

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


SIDES = [("split", "judge"), ("split", "candidate"), ("in_process", "judge")]

PROBES = ("/proc/self/mountinfo", "/proc/self/mounts", "/proc/1/mountinfo", "/proc/1/cmdline",
          "/proc/self/cmdline", "/proc/self/environ", "/proc/1/environ", "/etc/mtab")
SNOOP = ("import os\n\n\ndef snoop():\n    seen = []\n"
         f"    for path in {PROBES!r}:\n"
         "        try:\n"
         "            with open(path, 'rb') as fh:\n"
         "                seen.append(path + ' READ ' + fh.read().decode(errors='replace'))\n"
         "        except OSError as exc:\n"
         "            seen.append(path + ' ' + type(exc).__name__)\n"
         "    for link in ('/proc/self/exe', '/proc/self/cwd', '/proc/self/root', '/proc/1/root'):\n"
         "        try:\n"
         "            seen.append(link + ' LINK ' + os.readlink(link))\n"
         "        except OSError as exc:\n"
         "            seen.append(link + ' ' + type(exc).__name__)\n"
         "    try:\n"
         "        seen.append('proc dir ' + ' '.join(sorted(os.listdir('/proc'))))\n"
         "    except OSError as exc:\n"
         "        seen.append('proc dir ' + type(exc).__name__)\n"
         "    return '\\n'.join(seen)\n")
SNOOP_TESTS = {"test_s.py": "from solution import snoop\n\n\ndef test_s():\n"
                            "    print('SNOOP<<' + snoop() + '>>')\n    assert False\n"}


@pytest.mark.bwrap
@pytest.mark.parametrize(("mode", "side"), SIDES)
def test_bwrap_sandbox_has_no_proc_to_show_host_paths(mode: str, side: str,
                                                      tmp_path) -> None:
    sandbox = require_backend("bwrap")
    if side == "candidate":
        files, tests = {"solution.py": SNOOP}, SNOOP_TESTS
    else:  # the judge's own process: the trusted tests read, in place of the candidate
        files, tests = {"solution.py": "x = 1\n"}, {
            "snoop_lib.py": SNOOP, "test_s.py": SNOOP_TESTS["test_s.py"].replace(
                "from solution import snoop", "from snoop_lib import snoop")}
    result = run_candidate(files, tests, Limits(), sandbox, mode=mode)
    assert result.status == "failed", result
    found = re.search(r"SNOOP<<(.*)>>", result.stdout, re.S)
    assert found, result.stdout
    seen = found.group(1)
    assert " READ " not in seen and " LINK " not in seen, seen
    assert "/proc/self/mountinfo FileNotFoundError" in seen, seen
    assert re.search(r"^proc dir (FileNotFoundError)?$", seen, re.M), seen  # none or empty
    host = [str(sandbox_dir()), tempfile.gettempdir().rstrip("/") + "/" + STAGE_PREFIX,
            str(REPO), str(tmp_path)]
    assert [p for p in host if p in result.stdout] == []


@pytest.mark.docker
@pytest.mark.parametrize(("mode", "side"), SIDES)
def test_docker_mountinfo_shows_no_host_path_but_the_engines_and_the_runs_own(
        mode: str, side: str) -> None:
    sandbox = require_backend("docker")
    files, tests = (CANDIDATE, CANDIDATE_TESTS) if side == "candidate" else (
        {"solution.py": "x = 1\n"}, TESTS)
    result = run_candidate(files, tests, Limits(), sandbox, mode=mode)
    assert result.status == "failed", result
    stages = str(tempfile.gettempdir()).rstrip("/") + "/" + STAGE_PREFIX
    allowed = (stages, *DOCKER_STORAGE)
    host = {p for p in _sources(result.stdout) if p != "/"}
    assert host, "the sandbox should show its bind sources"
    assert [p for p in host if not p.startswith(allowed)] == []

"""Ownership of sandboxes: the one liveness rule, and two harness processes on one host."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import REPO as REPO_ROOT
from helpers.sandbox import BACKENDS, require_backend, sandbox_dir

from sandboxes import owners


def test_a_zombie_is_dead_and_a_running_child_alive() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert owners.pid_alive(child.pid)
        child.kill()
        deadline = time.monotonic() + 5
        while owners.pid_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        # Not reaped yet: kill(pid, 0) still answers, but it is a zombie.
        os.kill(child.pid, 0)
        assert not owners.pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not owners.pid_alive(child.pid)


def test_an_owner_is_its_pid_and_start_time() -> None:
    me = owners.owner_id()
    host, pid, token = me.split(":")
    assert (host, int(pid)) == (owners.HOST, os.getpid()) and token.isdigit()
    assert owners.owner_alive(me)
    assert not owners.owner_alive(f"{host}:{pid}:{int(token) + 1}")  # an earlier me
    parent = os.getppid()
    assert owners.owner_alive(f"{host}:{parent}:{owners.start_token(parent)}")
    # The parent's pid with another start time: a dead owner whose pid was reused.
    assert not owners.owner_alive(f"{host}:{parent}:1")
    assert owners.owner_alive("elsewhere:1:1")  # another host: only it can tell
    assert owners.owner_alive("not an owner")  # never removed blindly
    assert owners.local_name_alive(f"{owners.local_tag()}-abc")
    assert not owners.local_name_alive(f"{parent}.1-abc")


# One harness process: it starts a fresh backend (whose first run sweeps orphans)
# again and again, each with sandboxes started ahead of need, and runs an honest
# or a wrong candidate in it. Two of these run side by side, so each sweeps while
# the other's sandboxes run, start and are removed. (On docker, before owners and
# a listing that carries the labels, a sweep that inspected a container the other
# process had just removed failed its own run: "No such container".)
PROCESS = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from sandboxes.base import Limits, SandboxConfig
    from sandboxes.backends.bwrap import BwrapSandbox
    from sandboxes.backends.docker import DockerSandbox
    from harness.runs.execute import run_candidate

    name, until = sys.argv[1], time.monotonic() + float(sys.argv[3])
    cfg = SandboxConfig(Path(sys.argv[2]))
    tests = {"test_solution.py": "from solution import add\\n\\n"
             "def test_add():\\n    assert add(1, 2) == 3\\n"}
    body = "import time\\ndef add(a, b):\\n    time.sleep(0.2)\\n    return a {} b\\n"
    seen = []
    while time.monotonic() < until:
        sb = (DockerSandbox if name == "docker" else BwrapSandbox)(cfg, pool_size=4)
        want, op = ("passed", "+") if len(seen) % 2 == 0 else ("failed", "-")
        r = run_candidate({"solution.py": body.format(op)}, tests, Limits(wall_s=20), sb)
        seen.append([want, r.status, r.error])
        sb.close()  # discards the sandboxes it started ahead: removals the other sees
    print(json.dumps(seen), flush=True)
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_harness_processes_leave_each_others_sandboxes_alone(backend: str) -> None:
    require_backend(backend)
    env = {**os.environ, "HARNESS_SANDBOX_DIR": str(sandbox_dir())}
    procs = [subprocess.Popen([sys.executable, "-c", PROCESS, backend, str(sandbox_dir()),
                               str(seconds)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for seconds in (16, 14)]
    runs: list[list[str | None]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        runs += json.loads(out)
    assert len(runs) >= 4  # both processes ran while the other started and stopped backends
    wrong = [r for r in runs if r[0] != r[1]]
    assert wrong == [], f"{len(wrong)} of {len(runs)} runs without their true verdict"


@pytest.mark.docker
def test_a_backend_starting_while_another_process_removes_its_containers_runs() -> None:
    """The race behind "No such container": a sweep that lists another live process's
    containers while that process removes them must neither fail nor touch them."""
    import threading

    from helpers.sandbox import GOOD, PASSING_TESTS, config

    from sandboxes.backends.docker import LABEL, DockerSandbox
    from sandboxes.base import Limits

    sb = require_backend("docker")
    api = sb.client.api  # type: ignore[attr-defined]
    other = subprocess.Popen(["sleep", "120"])  # the other harness process, alive
    labels = {LABEL: "1", f"{LABEL}.pid": str(other.pid), f"{LABEL}.host": owners.HOST,
              f"{LABEL}.owner": f"{owners.HOST}:{other.pid}:{owners.start_token(other.pid)}"}
    ids = [api.create_container(sb.config.image_tag, command=["true"], labels=labels)["Id"]
           for _ in range(40)]
    keep = ids[-5:]
    try:
        def remove() -> None:
            for cid in ids[:-5]:
                api.remove_container(cid, force=True)

        remover = threading.Thread(target=remove)
        remover.start()
        result = DockerSandbox(config(), pool_size=0).run(GOOD, PASSING_TESTS, Limits())
        remover.join()
        assert (result.status, result.error) == ("passed", None)
        left = {c["Id"] for c in api.containers(all=True, filters={"label": f"{LABEL}.pid={other.pid}"})}
        assert left == set(keep), "the sweep removed a live process's containers"
    finally:
        for cid in ids:
            with contextlib.suppress(Exception):
                api.remove_container(cid, force=True)
        other.kill()
        other.wait()

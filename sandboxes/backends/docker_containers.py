"""A docker sandbox container: its create options, its labels, its removal.

Split out of sandboxes/backends/docker.py so that how a container is confined
can be read in one place, apart from the warm pools, the runs and the attach
stream (docker.py). This module owns:

- the create options: no network, a read-only root, size-capped tmpfs for /tmp
  and /work, the stage's /in read-only and its report file, all capabilities
  dropped, no-new-privileges, the memory/pids/CPU limits and the rlimits, no
  log driver, the sandbox's uid, no environment from the host;
- the labels every container carries: the owning process (`host:pid:start`,
  sandboxes.owners), the run and the limits, and the two removals they serve:
  a container whose creation did not complete on our side, and the containers
  of a dead harness process (the orphan sweep), never those of a live one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

from sandboxes import owners
from sandboxes.base import Limits
from sandboxes.staging import (
    CANDIDATE_ARGV,
    CANDIDATE_UID,
    RUNNER_ARGV,
    SANDBOX_ENV,
    SANDBOX_TMP,
    SANDBOX_UID,
    LinkOffer,
    Stage,
)

LABEL = "review-harness.sandbox"


@dataclass
class Warm:
    container: Any
    stage: Stage
    sock: Any


def remove_created(api: Any, run_id: str, container_id: str | None) -> None:
    """Force-remove a container whose creation did not complete on our side.

    By id when create_container answered; otherwise by its run label, since the
    engine may have created it although the answer never arrived.
    """
    ids = [container_id] if container_id else []
    if not ids:
        with contextlib.suppress(Exception):
            ids = [c["Id"] for c in api.containers(
                all=True, filters={"label": f"{LABEL}.run={run_id}"})]
    for cid in ids:
        with contextlib.suppress(Exception):
            api.remove_container(cid, force=True)


def sweep_orphan_containers(api: Any) -> int:
    """Remove sandbox containers whose owning harness process is gone.

    Only containers of this host whose owner (label `.owner`, `host:pid:start`;
    older containers: `.host` and `.pid`) is dead are removed, never those of
    another live harness process. The listing is one engine call that carries
    the labels (no per-container inspect), so a container another process
    removes meanwhile cannot make the sweep fail.
    """
    removed = 0
    for c in api.containers(all=True, filters={"label": LABEL}):
        labels = c.get("Labels") or {}
        owner = labels.get(f"{LABEL}.owner") or \
            f"{labels.get(f'{LABEL}.host', '')}:{labels.get(f'{LABEL}.pid', '')}"
        if owners.owner_alive(owner):
            continue
        with contextlib.suppress(Exception):  # gone already, or being removed
            api.remove_container(c["Id"], force=True)
            removed += 1
    return removed


def start_container(client: Any, image_tag: str, limits: Limits,
                    link: socket.socket | None = None, candidate: bool = False) -> Warm:
    """Create, attach to and start a container whose runner will import pytest and wait
    for its job on stdin (`candidate`: the candidate process of split execution, as
    its own uid; `link`: its end of the socket pair, handed over once it runs).

    `client` is the backend's docker client, taken through its lock (the SDK is
    imported there). Nothing is left behind when any step fails.
    """
    api = client.api
    from docker.types import LogConfig, Mount, Ulimit

    stage = Stage.empty()
    offer = LinkOffer(stage) if link is not None else None
    uid = CANDIDATE_UID if candidate else SANDBOX_UID
    mounts = [Mount("/in", str(stage.in_dir), type="bind", read_only=True)]
    if not candidate:
        mounts.append(Mount("/results/report.json", str(stage.report), type="bind"))
    disk = limits.disk_mb
    fsize = limits.file_size_mb << 20
    run_id = secrets.token_hex(8)
    container_id: str | None = None
    try:
        host_config = api.create_host_config(
            network_mode="none", read_only=True,
            tmpfs={SANDBOX_TMP: f"size={disk}m,mode=1777,nosuid,nodev",
                   "/work": f"size={disk}m,uid={uid},gid={uid},"
                            "mode=0700,nosuid,nodev"},
            mounts=mounts,
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            pids_limit=limits.pids, mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m", mem_swappiness=0,
            nano_cpus=int(limits.cpus * 1e9),
            ulimits=[Ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile),
                     Ulimit(name="fsize", soft=fsize, hard=fsize),
                     Ulimit(name="core", soft=0, hard=0)],
            log_config=LogConfig(type="none"), ipc_mode="private", shm_size=f"{disk}m",
        )
        created = api.create_container(
            image_tag, command=CANDIDATE_ARGV if candidate else RUNNER_ARGV,
            user=f"{uid}:{uid}", working_dir="/work",
            environment=dict(SANDBOX_ENV), hostname="sandbox", network_disabled=True,
            labels={LABEL: "1", f"{LABEL}.owner": owners.owner_id(),
                    f"{LABEL}.pid": str(os.getpid()), f"{LABEL}.host": owners.HOST,
                    f"{LABEL}.run": run_id, f"{LABEL}.limits": limits.key()},
            stdin_open=True, tty=False, detach=False,  # detach=False: StdinOnce
            host_config=host_config,
        )
        container_id = str(created["Id"])
        container = client.containers.get(container_id)
    except BaseException:
        remove_created(api, run_id, container_id)
        if offer is not None:
            offer.close()
        stage.remove()
        raise
    try:
        sock = client.api.attach_socket(
            container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        container.start()
        if offer is not None and link is not None:
            offer.hand_over(link)
    except BaseException:
        if offer is not None:
            offer.close()
        with contextlib.suppress(Exception):
            container.remove(force=True)
        stage.remove()
        raise
    return Warm(container, stage, sock)

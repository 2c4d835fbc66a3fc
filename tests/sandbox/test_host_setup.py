"""sandboxes/host-setup.sh on a host that is already set up: a quick no-op."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from helpers import REPO
from helpers.sandbox import sandbox_dir

from sandboxes import image


@pytest.mark.docker
@pytest.mark.bwrap
def test_host_setup_is_idempotent_and_reuses_the_image(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("host-setup.sh needs root (CI runs it as root)", pytrace=False)
    env = {**os.environ, "HARNESS_SANDBOX_DIR": str(sandbox_dir()),
           "HARNESS_DATA_DIR": str(tmp_path / "data")}
    started = time.monotonic()
    proc = subprocess.run([str(REPO / "sandboxes" / "host-setup.sh")], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "docker engine answers" in proc.stderr
    assert f"rootfs {image.content_version()} is up to date" in proc.stderr
    assert "is up to date" in proc.stderr.split("docker image", 1)[1]
    assert "mmdebstrap" not in proc.stderr
    assert time.monotonic() - started < 60


def test_host_setup_says_what_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_SANDBOX_DIR"}
    proc = subprocess.run([str(REPO / "sandboxes" / "host-setup.sh")], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert "HARNESS_SANDBOX_DIR" in proc.stderr

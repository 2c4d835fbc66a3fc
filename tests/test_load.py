"""bench/load.py, bounded in time: 50 simulated annotators claim, autosave, submit and skip
against `harness serve` on loopback while another project imports, on SQLite and on
PostgreSQL; no 5xx, no acknowledged submit lost or stored twice, no task over k, and
lease expiry honoured: with a 5 s lease, 5 annotators walk away from their task, which
expires and is claimed by others, and their late saves are refused or revive a free slot.
The full run is `bench/load.py --seconds 60` (its default), outside CI."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import REPO


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_fifty_annotators_lose_nothing(empty_database_url: str, workers: int) -> None:
    """workers=2: `harness serve --workers 2`, two processes writing one database."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--annotators", "50", "--seconds", "15",
         "--tasks", "300", "--overlap", "2", "--import-tasks", "1000",
         "--lease-seconds", "5", "--abandon", "5", "--workers", str(workers),
         "--database-url", empty_database_url],
        capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "all checks hold" in proc.stdout
    assert "acknowledged submits: 0" not in proc.stdout, proc.stdout
    assert "leases: " in proc.stdout, proc.stdout
    assert f"server {workers} process(es)" in proc.stdout, proc.stdout
    print(proc.stdout)

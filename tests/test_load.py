"""bench/load.py, bounded in time: 50 simulated annotators claim, autosave, submit and skip
against `harness serve` on loopback while another project imports, on SQLite and on
PostgreSQL; no 5xx, no acknowledged submit lost or stored twice, no task over k, and
lease expiry honoured: with a 5 s lease, 5 annotators walk away from their task, which
expires and is claimed by others, and their late saves are refused or revive a free slot.
The full run is `bench/load.py --seconds 60` (its default), outside CI."""

from __future__ import annotations

import re
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


@pytest.mark.slow
def test_paced_annotators_get_the_rate_they_schedule(empty_database_url: str) -> None:
    """bench/load.py --rate: the annotators schedule their writes (open loop) and the figures
    count each from when it was due; well under the server's capacity the writes keep to
    the schedule and every check holds."""
    rate = 60
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--annotators", "20", "--seconds", "12",
         "--warmup", "3", "--rate", str(rate), "--autosaves", "10", "--tasks", "200",
         "--import-tasks", "0", "--workers", "2", "--threads", "2",
         "--database-url", empty_database_url],
        capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "all checks hold" in proc.stdout and "after 3 s of warm-up" in proc.stdout
    found = re.search(r"submits \+ draft saves: ([\d.]+)/s \(scheduled 60/s", proc.stdout)
    assert found is not None, proc.stdout
    assert 0.75 * rate <= float(found.group(1)) <= 1.25 * rate, proc.stdout
    print(proc.stdout)

"""Every real candidate of humaneval-poe.jsonl gets the verdict human-eval recorded."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import REALDATA
from helpers.sandbox import require_backend

from harness.runs import run_candidate
from sandboxes.base import Limits, RunResult


@pytest.mark.bwrap
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["split", "in_process"])
def test_every_real_candidate_matches_the_official_verdict(mode: str) -> None:
    if not REALDATA.is_file():
        pytest.fail(f"real data missing: {REALDATA} (shared/ must sit beside the clone)",
                    pytrace=False)
    sb = require_backend("bwrap")
    jobs: list[tuple[str, dict[str, str], dict[str, str], bool]] = []
    for line in REALDATA.read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        for cand in task["candidates"]:
            jobs.append((f"{task['id']}/{cand['id']}", cand["files"], task["tests"],
                         bool(cand["metadata"]["official_passed"])))
    assert len(jobs) == 118

    def one(job: tuple[str, dict[str, str], dict[str, str], bool]) -> RunResult:
        return run_candidate(job[1], job[2], Limits(wall_s=10), sb, mode=mode)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(one, jobs))
    wrong = [(job[0], job[3], res.status, res.error, res.tamper)
             for job, res in zip(jobs, results, strict=True)
             if (res.status == "passed") != job[3]]
    assert wrong == []
    assert all(r.status != "sandbox_error" for r in results)
    assert {r.integrity for r in results} == {mode}
    assert {r.status for r in results} >= {"passed", "failed"}

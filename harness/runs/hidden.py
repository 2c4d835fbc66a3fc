"""Hidden tests: which outcomes of a run are hidden, and the run as an annotator may see
it before submitting.

A task's `hidden_tests` run with its tests in the judge (trusted files alike, never in
the candidate's sandbox). Candidates never see them; annotators see their names,
outcomes and output only after they submit. Before that, a run is shown as if only the
visible tests had run: hidden outcomes removed, an outcome status recomputed from the
visible ones, and the run's output and messages withheld where they could name or
quote a hidden test. After that, a candidate that passes every visible test and fails
a hidden one is shown as such (`hidden_note`): the signature of memorised answers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sandboxes.base import RunResult

HIDDEN_FAILS_NOTE = "passes visible tests, fails hidden ones"
WITHHELD = "(withheld until you submit: it may show hidden tests)"
_OUTCOME_STATUSES = frozenset({"passed", "failed", "error"})
_FAILING_OUTCOMES = frozenset({"failed", "missing", "error"})


def is_hidden_test(name: str, hidden_files: Collection[str]) -> bool:
    """Whether an outcome id (`file::test`, `file::<module>`) belongs to a hidden file."""
    return name.partition("::")[0] in hidden_files


def mark_hidden(result: RunResult, hidden_files: Collection[str]) -> RunResult:
    """Mark the outcomes of hidden files (in place; returns the result)."""
    for outcome in result.tests:
        outcome.hidden = is_hidden_test(outcome.name, hidden_files)
    return result


_STATUS_ORDER = ("sandbox_error", "tamper_suspected", "timeout", "oom", "output_limit",
                 "error", "failed")
"""A combined run takes the first of these its parts have, else passed."""


def combined(visible: RunResult, hidden: RunResult) -> RunResult:
    """One result of a task whose visible tests ran in process and whose hidden tests ran
    in a split run of their own (so the candidate never shared a sandbox with them).

    The integrity is the weaker one (in_process); outcomes, tamper reasons and output
    are both parts', the hidden part's output marked as such."""
    statuses = {visible.status, hidden.status}
    status = next((s for s in _STATUS_ORDER if s in statuses), "passed")
    first = visible if visible.status != "passed" or hidden.status == "passed" else hidden
    cpu = None if visible.cpu_s is None or hidden.cpu_s is None else visible.cpu_s + hidden.cpu_s
    peaks = [p for p in (visible.peak_memory_bytes, hidden.peak_memory_bytes) if p is not None]
    return RunResult(
        status=status, exit_code=first.exit_code, signal=first.signal,
        tests=[*visible.tests, *hidden.tests], wall_s=round(visible.wall_s + hidden.wall_s, 3),
        cpu_s=cpu, peak_memory_bytes=max(peaks) if peaks else None,
        stdout=visible.stdout + "\n--- hidden tests (a split run of their own) ---\n"
        + hidden.stdout,
        stderr=visible.stderr + "\n--- hidden tests (a split run of their own) ---\n"
        + hidden.stderr,
        stdout_truncated=visible.stdout_truncated or hidden.stdout_truncated,
        stderr_truncated=visible.stderr_truncated or hidden.stderr_truncated,
        backend=visible.backend, image=visible.image,
        isolation=visible.isolation if visible.isolation == hidden.isolation else "degraded",
        tamper=[*visible.tamper, *hidden.tamper], error=first.error or visible.error
        or hidden.error, integrity="in_process")


def _outcomes(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [t for t in result.get("tests", []) if isinstance(t, dict)]


def _status_of(outcomes: Iterable[Mapping[str, Any]]) -> str:
    found = [str(t.get("outcome")) for t in outcomes]
    if any(o in ("failed", "missing", "skipped") for o in found):
        return "failed"
    if any(o == "error" for o in found):
        return "error"
    return "passed" if "passed" in found else "failed"


def _mentions(text: str, needles: Collection[str]) -> bool:
    return any(n and n in text for n in needles)


def visible_view(result: Mapping[str, Any] | None,
                 hidden_files: Collection[str]) -> dict[str, Any] | None:
    """The result as an annotator sees it before submitting: nothing of the hidden tests.

    Run-level statuses (timeout, oom, tamper_suspected, ...) stay: they are about the
    whole run. An outcome status (passed/failed/error) is recomputed from the visible
    outcomes. stdout/stderr (pytest's report names every file) are withheld, and any
    message or reason that names a hidden file or test is withheld too."""
    if result is None or not hidden_files:
        return dict(result) if result is not None else None
    outcomes = _outcomes(result)
    hidden = [t for t in outcomes if t.get("hidden") or
              is_hidden_test(str(t.get("name", "")), hidden_files)]
    visible = [t for t in outcomes if t not in hidden]
    needles = set(hidden_files) | {str(t.get("name", "")).rpartition("::")[2] for t in hidden}
    needles |= {name.rsplit("/", 1)[-1].removesuffix(".py") for name in hidden_files}
    needles.discard("")
    out = dict(result)
    out["tests"] = [t if not _mentions(str(t.get("message", "")), needles)
                    else {**t, "message": WITHHELD} for t in visible]
    if out.get("status") in _OUTCOME_STATUSES:
        # a task with hidden tests only shows no verdict until the submit
        out["status"] = _status_of(visible) if visible else None
    for stream in ("stdout", "stderr"):
        if out.get(stream):
            out[stream] = WITHHELD
            out[f"{stream}_truncated"] = False
    if out.get("error") and _mentions(str(out["error"]), needles):
        out["error"] = WITHHELD
    out["tamper"] = [r if not _mentions(str(r), needles) else WITHHELD
                     for r in out.get("tamper", [])]
    return out


def hidden_note(result: Mapping[str, Any] | None) -> str | None:
    """HIDDEN_FAILS_NOTE when every visible test passed and a hidden one did not."""
    if result is None:
        return None
    outcomes = _outcomes(result)
    hidden = [t for t in outcomes if t.get("hidden")]
    visible = [t for t in outcomes if not t.get("hidden")]
    if not hidden or not visible:
        return None
    if all(t.get("outcome") == "passed" for t in visible) and any(
            t.get("outcome") in _FAILING_OUTCOMES or t.get("outcome") == "skipped"
            for t in hidden):
        return HIDDEN_FAILS_NOTE
    return None

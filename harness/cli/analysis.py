"""hints, analyze: static-analysis hints for files on disk and for a project's candidates.

bandit and radon are imported inside the commands, so other commands start fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from harness.cli.common import fail, session, settings


def _read_files(paths: tuple[Path, ...]) -> dict[str, str]:
    """A file argument is keyed by its path as given; a directory's files by their path in it."""
    files: dict[str, str] = {}
    for arg in paths:
        if arg.is_dir():
            found = sorted(
                p for p in arg.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
            pairs = [(p, p.relative_to(arg).as_posix()) for p in found]
        else:
            pairs = [(arg, arg.as_posix())]
        for path, key in pairs:
            try:
                files[key] = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise fail(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            except OSError as exc:
                raise fail(f"{path}: {exc.strerror}") from None
    return files


def _summary_line(summary: dict[str, Any]) -> str:
    counts = summary["bandit"]
    parts = [
        f"{summary['hints']} hint(s)",
        f"bandit {counts['high']} high / {counts['medium']} medium / {counts['low']} low",
    ]
    worst = summary.get("worst_cc")
    if worst:
        parts.append(
            f"worst CC {worst['rank']} ({worst['cc']}) {worst['function']} "
            f"{worst['file']}:{worst['line']}"
        )
    if summary.get("mi") is not None:
        parts.append(f"MI {summary['mi']:.1f} ({summary['mi_rank']})")
    if summary.get("gaming"):
        parts.append(f"{summary['gaming']} test-gaming flag(s)")
    return "; ".join(parts)


@click.command()
@click.argument(
    "paths", nargs=-1, required=True, metavar="FILE...",
    type=click.Path(exists=True, path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option("--language", default="python", show_default=True,
              help="Language of the files; hints exist for python only.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=None,
              help="Files larger than this are not analysed [default: HARNESS_MAX_FILE_BYTES "
                   "or 1 MiB].")
def hints(paths: tuple[Path, ...], as_json: bool, language: str, max_bytes: int | None) -> None:
    """Print the static-analysis hints (bandit, radon, test-gaming checks) of files on disk.

    All files together are analysed as one candidate, as import does. A directory
    stands for every file under it.
    """
    from harness.analysis import analyze_files
    from harness.settings import max_file_bytes_from_env

    if max_bytes is None:
        max_bytes = max_file_bytes_from_env()
    result = analyze_files(_read_files(paths), language=language, max_bytes=max_bytes)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    for h in result.hints:
        lines = f"{h.line_start}" if h.line_end == h.line_start else f"{h.line_start}-{h.line_end}"
        extra = [f"confidence {h.confidence}"] if h.confidence else []
        if h.cwe:
            extra.append(f"CWE-{h.cwe}")
        tail = f" [{', '.join(extra)}]" if extra else ""
        click.echo(
            f"{h.file_path}:{lines}: {h.severity} {h.analyzer} {h.rule_id} {h.title}: "
            f"{h.message}{tail}"
        )
    click.echo(_summary_line(result.summary))


@click.command()
@click.argument("project")
@click.option("--force", is_flag=True, help="Re-analyse candidates that already have results.")
def analyze(project: str, force: bool) -> None:
    """Analyse every candidate of PROJECT that has no current analysis (all with --force)."""
    from sqlalchemy import func, select

    from harness.analysis.store import analyze_many
    from harness.models import Candidate, Project, Task

    max_bytes = settings().max_file_bytes
    with session() as s:
        found = s.scalars(select(Project).where(Project.slug == project)).one_or_none()
        if found is None:
            raise fail(f"no project {project!r}")
        where = Task.project_id == found.id
        total = s.scalar(select(func.count()).select_from(Candidate).join(Task).where(where)) or 0
        rows = s.execute(
            select(Candidate.content_hash, Candidate.files, Task.language, Task.tests)
            .join(Task, Candidate.task_id == Task.id)
            .where(where)
            .order_by(Candidate.id)
            .execution_options(yield_per=500)
        )
        items = ((h, files, lang, tests) for h, files, lang, tests in rows)
        analysed = analyze_many(
            s, items, progress=True, force=force, max_bytes=max_bytes, total=total
        )
    click.echo(f"{project}: {total} candidate(s), {analysed} analysed, "
               f"{total - analysed} already up to date or duplicates")


COMMANDS: list[click.Command] = [hints, analyze]

"""`harness sandbox build [--offline] | check | run`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import click

from harness.cli.common import fail, settings
from harness.runs.execute import run_candidate, sandbox_config
from sandboxes import image
from sandboxes.base import Limits, backend_names, get_backend

MAX_FILES = 200


def _progress(message: str) -> None:
    click.echo(f"==> {message}", err=True)


@click.group()
def sandbox() -> None:
    """Build, check and use the test sandbox."""


@sandbox.command("build")
@click.option("--offline", is_flag=True,
              help="Build from the host's apt sources with mmdebstrap (no registry).")
def build(offline: bool) -> None:
    """Build the sandbox image (a no-op when it is up to date)."""
    cfg = sandbox_config(settings())
    if not offline:
        dockerfile = Path(image.__file__).parent / "python"
        if shutil.which("docker") is None:
            raise fail("docker CLI not found; use --offline to build the rootfs only")
        _progress(f"docker build {dockerfile} -> {cfg.image_tag}")
        proc = subprocess.run(["docker", "build", "-t", cfg.image_tag, str(dockerfile)],
                              check=False)
        if proc.returncode != 0:
            raise fail(f"docker build failed (exit {proc.returncode}); try --offline")
        return
    try:
        paths = image.build_rootfs(cfg.sandbox_dir, _progress)
    except image.BuildError as exc:
        raise fail(str(exc)) from None
    docker_sb = get_backend("docker", cfg)
    try:
        docker_sb.client.ping()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - no engine: the rootfs still serves bwrap
        _progress(f"no Docker engine answers ({exc.__class__.__name__}); "
                  "rootfs built for bwrap only")
    else:
        try:
            image.import_into_docker(docker_sb.client, paths, cfg.image_tag,  # type: ignore[attr-defined]
                                     _progress)
        except image.BuildError as exc:
            raise fail(str(exc)) from None
    click.echo(f"sandbox image {cfg.image_tag} ready (rootfs {paths.rootfs})")


@sandbox.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def check(as_json: bool) -> None:
    """Report which backends work here and at what isolation."""
    cfg = sandbox_config(settings())
    report: dict[str, dict[str, object]] = {}
    for name in backend_names():
        ok, detail = get_backend(name, cfg).check()
        report[name] = {"ok": ok, "detail": detail}
    auto = next((n for n in ("docker", "bwrap") if report.get(n, {}).get("ok")), None)
    if as_json:
        click.echo(json.dumps({"backends": report, "auto": auto}, sort_keys=True))
    else:
        for name, row in report.items():
            click.echo(f"{name:7} {'ok  ' if row['ok'] else 'FAIL'} {row['detail']}")
        click.echo(f"auto -> {auto or 'none'}")
    if auto is None:
        raise fail("no sandbox backend works here")


def _read_tree(root: Path, what: str) -> dict[str, str]:
    if not root.is_dir():
        raise fail(f"--{what} {root}: not a directory")
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise fail(f"--{what} {path}: symlinks are not allowed")
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(root).as_posix()
        if len(files) >= MAX_FILES:
            raise fail(f"--{what} {root}: more than {MAX_FILES} files")
        if path.stat().st_size > settings().max_file_bytes:
            raise fail(f"--{what} {rel}: larger than {settings().max_file_bytes} bytes")
        try:
            files[rel] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise fail(f"--{what} {rel}: not UTF-8 text") from None
    if not files:
        raise fail(f"--{what} {root}: no files")
    return files


@sandbox.command("run")
@click.option("--candidate", "candidate_dir", required=True,
              type=click.Path(path_type=Path), help="Directory with the candidate's files.")
@click.option("--tests", "tests_dir", required=True, type=click.Path(path_type=Path),
              help="Directory with the trusted pytest files.")
@click.option("--backend", type=click.Choice(["auto", "docker", "bwrap"]), default=None,
              help="Default: HARNESS_SANDBOX (auto).")
@click.option("--timeout", type=float, default=None, help="Wall time limit in seconds.")
@click.option("--memory", type=int, default=None, help="Memory limit in MiB.")
def run(candidate_dir: Path, tests_dir: Path, backend: str | None, timeout: float | None,
        memory: int | None) -> None:
    """Run the tests against a candidate; print the result as one JSON object."""
    candidate = _read_tree(candidate_dir, "candidate")
    tests = _read_tree(tests_dir, "tests")
    overrides: dict[str, float | int] = {}
    if timeout is not None:
        overrides["wall_s"] = timeout
    if memory is not None:
        overrides["memory_mb"] = memory
    try:
        limits = Limits.from_dict(overrides)
    except ValueError as exc:
        raise fail(str(exc)) from None
    cfg = sandbox_config(settings())
    name = backend or settings().sandbox_backend
    sb = get_backend(name, cfg)
    sb.set_pool_size(0)  # one run: nothing started ahead of need
    result = run_candidate(candidate, tests, limits, sb)
    click.echo(result.to_json())


COMMANDS: list[click.Command] = [sandbox]

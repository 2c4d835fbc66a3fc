"""The command line, run as a user runs it: the installed `harness` script in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click
import pytest
from helpers import RUBRIC, task_line, write_jsonl

from harness.cli import main

HARNESS = str(Path(sys.executable).parent / "harness")


@pytest.fixture
def env(tmp_path: Path, database: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """SQLite: the default file in the data dir; PostgreSQL: an empty database `init` migrates."""
    env = {**os.environ, "HARNESS_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    if database == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("empty_database_url")
    return env


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def project_file(tmp_path: Path, **fields: object) -> Path:
    spec = {"name": "P", "slug": "p", "rubric": str(RUBRIC)} | fields
    path = tmp_path / "project.yaml"
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in spec.items()) + "\n")
    return path


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, (*prefix, name))


def test_every_command_has_help() -> None:
    from click.testing import CliRunner

    runner = CliRunner()
    names = list(all_commands(main))
    for required in ["init", "user", "token", "project", "import", "status", "serve", "demo"]:
        assert (required,) in names
    for path in names:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_init_is_safe_to_run_twice(env) -> None:
    assert run(env, "init").returncode == 0
    second = run(env, "init")
    assert second.returncode == 0, second.stderr
    if "DATABASE_URL" not in env:
        assert Path(env["HARNESS_DATA_DIR"], "harness.db").exists()


def test_user_add_with_password_from_stdin_and_duplicates_refused(env) -> None:
    run(env, "init")
    ok = run(env, "user", "add", "ann", "--role", "annotator", "--password-stdin", stdin="s3cret-pass\n")
    assert ok.returncode == 0, ok.stderr
    assert "s3cret" not in ok.stdout
    again = run(env, "user", "add", "ann", "--role", "annotator", "--password-stdin", stdin="s3cret-pass\n")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == ["Error: user 'ann' already exists"]


def test_user_add_to_unknown_project_fails_and_adds_nothing(env) -> None:
    run(env, "init")
    bad = run(env, "user", "add", "ann", "--role", "annotator", "--project", "nope", "--password-stdin", stdin="long-enough\n")
    assert bad.returncode == 1 and "no project with slug 'nope'" in bad.stderr
    assert run(env, "user", "add", "ann", "--role", "annotator", "--password-stdin", stdin="long-enough\n").returncode == 0


def test_bad_role_is_a_one_line_error(env) -> None:
    result = run(env, "user", "add", "ann", "--role", "root")
    assert result.returncode == 2 and "Invalid value for '--role'" in result.stderr


def test_project_create_prints_slug_and_refuses_duplicates(env, tmp_path) -> None:
    path = project_file(tmp_path, overlap=2, blind=False)
    created = run(env, "project", "create", str(path))
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "p"
    dup = run(env, "project", "create", str(path))
    assert dup.returncode == 1 and "already exists" in dup.stderr


def test_project_file_errors_name_line_and_field(env, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: P\nslug: Bad Slug\nrubric: {RUBRIC}\noverlap: 0\ncolour: red\n")
    result = run(env, "project", "create", str(path))
    assert result.returncode == 1
    assert f"{path}:2: slug:" in result.stderr
    assert f"{path}:4: overlap:" in result.stderr
    assert f"{path}:5: colour: Extra inputs are not permitted" in result.stderr


def test_project_file_with_missing_rubric(env, tmp_path) -> None:
    result = run(env, "project", "create", str(project_file(tmp_path, rubric="nope.yaml")))
    assert result.returncode == 1 and "rubric: no such file" in result.stderr


def test_import_errors_print_every_line_and_import_nothing(env, tmp_path) -> None:
    run(env, "project", "create", str(project_file(tmp_path)))
    path = write_jsonl(tmp_path / "t.jsonl", [task_line("a"), "{", task_line("b", candidates=[])])
    result = run(env, "import", "p", str(path))
    assert result.returncode == 1
    lines = [x for x in result.stderr.splitlines() if x.startswith(str(path))]
    assert [x.split(":")[1] for x in lines] == ["2", "3"]
    assert "nothing was imported" in result.stderr
    status = json.loads(run(env, "status", "p", "--json").stdout)
    assert status["tasks"] == 0


def test_import_then_status_json(env, tmp_path) -> None:
    run(env, "project", "create", str(project_file(tmp_path, tests=False)))
    path = write_jsonl(tmp_path / "t.jsonl", [task_line("a"), task_line("b")])
    result = run(env, "import", "p", str(path))
    assert result.returncode == 0, result.stderr
    assert "imported 2 new and 0 updated task(s), 4 candidate(s)" in result.stdout
    status = json.loads(run(env, "status", "p", "--json").stdout)
    assert status["tasks"] == 2 and status["candidates"] == 4 and status["annotations"] == 0
    again = run(env, "import", "p", str(path))
    assert again.returncode == 1 and "use --update" in again.stderr
    assert run(env, "import", "p", str(path), "--update").returncode == 0


def test_unknown_project_is_a_one_line_error(env, tmp_path) -> None:
    run(env, "init")
    result = run(env, "status", "nope")
    assert result.returncode == 1 and result.stderr.strip() == "Error: no project with slug 'nope'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_a_production_server_on_loopback(env) -> None:
    port = free_port()
    proc = subprocess.Popen([HARNESS, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                    assert resp.status == 200
                    assert resp.headers["Server"] == "review-harness"  # waitress, not werkzeug
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not answer within 30 s"
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_serve_refuses_a_body_beyond_the_upload_limit_before_reading_it(env) -> None:
    """waitress would keep up to 1 GiB of any anonymous request in a temp file before the
    app's own limit answered; the limit is the largest upload the app takes."""
    port = free_port()
    proc = subprocess.Popen([HARNESS, "serve", "--port", str(port)],
                            env={**env, "HARNESS_MAX_UPLOAD_MB": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        with sock:
            sock.settimeout(10)  # no body follows: an answer must come from the header
            sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: 500000000\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 413")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_a_project_file_with_a_lone_surrogate_is_a_line_error(env, tmp_path) -> None:
    """json.dumps writes an emoji as "\\ud83d\\ude00"; YAML (a project file is YAML)
    decodes that to two lone surrogates, which no database stores: the CLI said so with
    a traceback."""
    path = tmp_path / "project.yaml"
    path.write_text(f'name: "P"\nslug: "p"\nrubric: "{RUBRIC}"\n'
                    'description: "smile \\ud83d\\ude00"\n')
    result = run(env, "project", "create", str(path))
    assert result.returncode == 1, result.stderr
    assert f"{path}:4: description:" in result.stderr and "surrogate" in result.stderr
    assert "Traceback" not in result.stderr


def test_sandbox_limits_outside_the_sandbox_bounds_are_refused(env, tmp_path) -> None:
    path = project_file(tmp_path, sandbox={"memory_mb": 16})
    result = run(env, "project", "create", str(path))
    assert result.returncode == 1
    assert f"{path}:4: sandbox:" in result.stderr and "limits.memory_mb: 16 is outside 32..65536" in result.stderr

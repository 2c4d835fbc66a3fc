from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.settings import Settings, SettingsError


def test_secret_key_generated_once_with_mode_0600(tmp_path: Path) -> None:
    env = {"HARNESS_DATA_DIR": str(tmp_path / "d")}
    first = Settings.from_env(env)
    key_file = tmp_path / "d" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings.from_env(env).secret_key == first.secret_key
    assert len(first.secret_key) >= 32


def test_secret_key_from_environment_wins(tmp_path: Path) -> None:
    s = Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 40})
    assert s.secret_key == "x" * 40
    assert not (tmp_path / "secret_key").exists()


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'harness.db'}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DATABASE_URL": "harness.db"}, "DATABASE_URL"),
        ({"HARNESS_MAX_FILE_BYTES": "lots"}, "HARNESS_MAX_FILE_BYTES"),
        ({"HARNESS_SANDBOX": "chroot"}, "HARNESS_SANDBOX"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"HARNESS_INPROCESS_WORKER": "maybe"}, "HARNESS_INPROCESS_WORKER"),
        ({"HARNESS_LEASE_MINUTES": "0"}, "HARNESS_LEASE_MINUTES"),
    ],
)
def test_bad_settings_fail_with_the_setting_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path)} | env)


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(SettingsError, match="not a directory"):
        Settings.from_env({"HARNESS_DATA_DIR": str(target)})


def test_readme_lists_every_setting() -> None:
    """Settings is the only configuration channel, and the README names all of it."""
    import re

    from helpers import REPO

    source = (REPO / "harness" / "settings.py").read_text()
    names = set(re.findall(r'"((?:HARNESS_|DATABASE_URL|SECRET_KEY|REDIS_URL)[A-Z_]*)"', source))
    assert {"HARNESS_DATA_DIR", "HARNESS_LEASE_MINUTES", "HARNESS_PROBE_SLOTS"} <= names
    readme = (REPO / "README.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing, f"README's settings table lacks {missing}"


def test_nothing_else_reads_the_environment() -> None:
    from helpers import REPO

    offenders = [str(p.relative_to(REPO)) for d in ("harness", "web", "sandboxes")
                 for p in (REPO / d).rglob("*.py")
                 if p.name != "settings.py" and ("os.environ" in p.read_text() or "getenv(" in p.read_text())]
    assert offenders == []

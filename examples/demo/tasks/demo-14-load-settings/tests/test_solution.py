import textwrap

import pytest

from solution import load_settings

FULL = """
[database]
host = db.internal
port = 5433
user = app
password = from-the-file

[api]
key = abc123
"""


def write(tmp_path, text):
    path = tmp_path / "settings.ini"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def test_reads_all_values(tmp_path):
    s = load_settings(write(tmp_path, FULL), env={})
    assert (s.db_host, s.db_port, s.db_user) == ("db.internal", 5433, "app")
    assert s.db_password == "from-the-file"
    assert s.api_key == "abc123"


def test_port_defaults_to_5432(tmp_path):
    text = FULL.replace("port = 5433\n", "")
    assert load_settings(write(tmp_path, text), env={}).db_port == 5432


def test_environment_overrides_file(tmp_path):
    env = {"APP_DB_PASSWORD": "from-env", "APP_API_KEY": "env-key"}
    s = load_settings(write(tmp_path, FULL), env=env)
    assert s.db_password == "from-env"
    assert s.api_key == "env-key"


def test_secrets_from_environment_only(tmp_path):
    text = FULL.replace("password = from-the-file\n", "").replace("key = abc123\n", "")
    s = load_settings(write(tmp_path, text), env={"APP_DB_PASSWORD": "pw", "APP_API_KEY": "k"})
    assert (s.db_password, s.api_key) == ("pw", "k")


def test_missing_host_raises(tmp_path):
    text = FULL.replace("host = db.internal\n", "")
    with pytest.raises(ValueError):
        load_settings(write(tmp_path, text), env={})

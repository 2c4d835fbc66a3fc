"""Logins and sessions: rate limiting kept in the database (so processes share it),
sessions ended by a password change (CLI and browser form), the session cookie's
flags, and no built-in secret key anywhere."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, REPO, csrf_from
from sqlalchemy import func, select

from harness import logins
from harness.errors import RateLimited
from harness.models import LoginFailure, User, utcnow
from harness.settings import Settings, SettingsError

HARNESS = str(Path(sys.executable).parent / "harness")


def try_login(client: FlaskClient, name: str, password: str) -> object:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token})


def client_from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_ten_failures_lock_the_account_with_429_and_retry_after(app, make_user, db) -> None:
    make_user("ann")
    attacker = client_from(app, "10.0.0.1")
    for _ in range(logins.MAX_FAILURES):
        assert try_login(attacker, "ann", "wrong password").status_code == 401
    resp = try_login(attacker, "ann", PASSWORD)  # even the right password, once locked
    assert resp.status_code == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 15 * 60
    assert "too many failed logins" in resp.get_data(as_text=True)
    # per account: another address is refused for this account too ...
    other = client_from(app, "10.0.0.2")
    resp = try_login(other, "ann", PASSWORD)
    assert resp.status_code == 429 and "this account" in resp.get_data(as_text=True)
    # ... JSON clients get the one error shape
    token = csrf_from(other.get("/login").get_data(as_text=True))
    resp = other.post("/login", headers={"Accept": "application/json"},
                      data={"name": "ann", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "too_many_logins"
    # the lock is in the database: every process sees the same rows
    assert db.scalar(select(func.count()).select_from(LoginFailure)
                     .where(LoginFailure.key == "user:ann")) == logins.MAX_FAILURES


def test_failures_from_one_address_lock_that_address_across_names(app, make_user) -> None:
    make_user("ann")
    make_user("bob")
    sprayer = client_from(app, "10.0.0.9")
    for i in range(logins.MAX_FAILURES):  # one guess at each of many names
        assert try_login(sprayer, f"user{i}", "guess").status_code == 401
    resp = try_login(sprayer, "bob", PASSWORD)
    assert resp.status_code == 429 and "this address" in resp.get_data(as_text=True)
    # bob from his own address is not locked out by someone else's spraying
    assert try_login(client_from(app, "10.0.0.10"), "bob", PASSWORD).status_code == 302


def test_behind_a_proxy_each_client_is_limited_by_its_own_address(
        settings, session_factory, make_user) -> None:  # type: ignore[no-untyped-def]
    """HARNESS_PROXY_HOPS=1: every request comes from the proxy (127.0.0.1), the client's
    address is the last X-Forwarded-For hop. One client's spraying locks that client,
    not everyone behind the proxy; a client cannot pick its address by adding hops of
    its own in front."""
    from dataclasses import replace

    from web import create_app
    from web.extensions import dispose_engine

    make_user("bob")
    app = create_app({"TESTING": True}, settings=replace(settings, proxy_hops=1))
    plain = create_app({"TESTING": True}, settings=settings)
    try:
        _limits_behind_a_proxy(app, plain)
    finally:
        dispose_engine(app)
        dispose_engine(plain)


def _limits_behind_a_proxy(app: Flask, plain: Flask) -> None:

    def via_proxy(client_address: str, claimed: str = "") -> FlaskClient:
        client = client_from(app, "127.0.0.1")
        forwarded = f"{claimed}, {client_address}" if claimed else client_address
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
        return client

    sprayer = via_proxy("203.0.113.9")
    for i in range(logins.MAX_FAILURES):
        assert try_login(sprayer, f"user{i}", "guess").status_code == 401
    assert try_login(sprayer, "bob", PASSWORD).status_code == 429
    # the same client claiming another address in front of the proxy's hop: still itself
    assert try_login(via_proxy("203.0.113.9", claimed="198.51.100.1"), "bob",
                     PASSWORD).status_code == 429
    assert try_login(via_proxy("203.0.113.10"), "bob", PASSWORD).status_code == 302
    # without the setting the header is not trusted: all one address (the proxy's)
    for i in range(logins.MAX_FAILURES):
        client = client_from(plain, "127.0.0.1")
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{i}"
        assert try_login(client, f"other{i}", "guess").status_code == 401
    assert try_login(client_from(plain, "127.0.0.1"), "bob", PASSWORD).status_code == 429


def _at_once(session_factory, names: list[str], address: str
             ) -> tuple[list[int], list[RateLimited]]:  # type: ignore[no-untyped-def]
    """`begin_attempt` for each name, all in threads let go at the same moment."""
    import threading

    barrier = threading.Barrier(len(names))
    through: list[int] = []
    refused: list[RateLimited] = []

    def attempt(name: str) -> None:
        barrier.wait()
        with session_factory() as s:
            try:
                through.append(logins.begin_attempt(s, name, address))
            except RateLimited as exc:
                refused.append(exc)

    threads = [threading.Thread(target=attempt, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return through, refused


def test_guesses_at_one_account_at_once_get_no_more_checks_than_the_limit(
        session_factory) -> None:  # type: ignore[no-untyped-def]
    """40 guesses at one account at the same moment (every server thread and process
    checking a password for ~0.3 s): each counts itself before its check, so at most
    MAX_FAILURES go ahead, not every guess that started before a failure was recorded."""
    through, refused = _at_once(session_factory, ["ann"] * 40, "10.9.9.9")
    assert len(through) <= logins.MAX_FAILURES and len(through) + len(refused) == 40
    with session_factory() as s:  # the ones that went ahead are the account's rows
        keys = s.scalars(select(LoginFailure.key)).all()
    assert keys.count("user:ann") == len(through)


def test_many_people_logging_in_at_once_from_one_address_are_not_refused(
        session_factory) -> None:  # type: ignore[no-untyped-def]
    """A team behind one NAT address (or a proxy) starting its shift: 30 logins to 30
    accounts at the same moment are all checked; the address counts failures only."""
    through, refused = _at_once(session_factory, [f"ann{i}" for i in range(30)], "10.8.8.8")
    assert refused == [] and len(through) == 30
    with session_factory() as s:
        for i, attempt in enumerate(through):
            logins.succeeded(s, attempt, f"ann{i}")
        for _ in range(logins.MAX_FAILURES):  # failures from the address still lock it
            logins.failed(s, "10.8.8.8")
        s.commit()
        with pytest.raises(RateLimited, match="this address"):
            logins.begin_attempt(s, "someone", "10.8.8.8")


def fail_login(db, name: str, address: str, *, now=None) -> None:
    """One login whose password was wrong, as the login view records it."""
    logins.begin_attempt(db, name, address, now=now)
    logins.failed(db, address, now=now)
    db.commit()


def test_failures_age_out_of_the_window_and_a_success_clears_the_account(db, make_user) -> None:
    make_user("ann")
    long_ago = utcnow() - logins.WINDOW - timedelta(seconds=5)
    for _ in range(logins.MAX_FAILURES):
        fail_login(db, "ann", "10.0.0.1", now=long_ago)
    for _ in range(logins.MAX_FAILURES - 1):  # old failures do not count
        fail_login(db, "ann", "10.0.0.1")
    attempt = logins.begin_attempt(db, "ann", "10.0.0.1")  # 9 is still allowed
    logins.succeeded(db, attempt, "ann")
    db.commit()
    fail_login(db, "ann", "10.0.0.2")
    fail_login(db, "ann", "10.0.0.1")  # the account's count restarted at the success ...
    with pytest.raises(RateLimited, match="this address"):  # ... the address's did not
        logins.begin_attempt(db, "ann", "10.0.0.1")
    logins.succeeded(db, logins.begin_attempt(db, "ann", "10.0.0.3"), "ann")
    assert db.scalar(select(func.count()).select_from(LoginFailure)
                     .where(LoginFailure.at < utcnow() - logins.WINDOW)) == 0  # swept


def logged_in(app: Flask, name: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    assert try_login(client, name, password).status_code == 302
    assert client.get("/").status_code == 200
    return client


def still_in(client: FlaskClient) -> bool:
    resp = client.get("/")
    return resp.status_code == 200 and "/login" not in resp.headers.get("Location", "")


def test_cli_password_change_ends_every_session(app, make_user, settings) -> None:
    make_user("ann")
    one, two = logged_in(app, "ann"), logged_in(app, "ann")
    env = {**os.environ, "HARNESS_DATA_DIR": str(settings.data_dir),
           "DATABASE_URL": settings.database_url}
    done = subprocess.run([HARNESS, "user", "passwd", "ann", "--password-stdin"], env=env,
                          input="a brand new password\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert not still_in(one) and not still_in(two)
    assert one.get("/").headers["Location"].startswith("/login")
    assert try_login(app.test_client(), "ann", PASSWORD).status_code == 401
    assert still_in(logged_in(app, "ann", "a brand new password"))
    refused = subprocess.run([HARNESS, "user", "passwd", "nobody", "--password-stdin"],
                             env=env, input="a brand new password\n", capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 1 and "no user named 'nobody'" in refused.stderr


def change_form(client: FlaskClient, current: str, new: str, repeat: str | None = None) -> object:
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    return client.post("/account/password", data={
        "current": current, "password": new, "repeat": new if repeat is None else repeat,
        "csrf_token": token})


def test_browser_password_change_keeps_this_session_and_ends_the_others(
        app, make_user, db) -> None:
    make_user("ann")
    here, elsewhere = logged_in(app, "ann"), logged_in(app, "ann")
    assert change_form(here, "not my password", "another password 1").status_code == 403
    assert change_form(here, PASSWORD, "another password 1", "typo").status_code == 400
    assert change_form(here, PASSWORD, "short").status_code == 400
    assert still_in(elsewhere)  # nothing changed yet
    resp = change_form(here, PASSWORD, "another password 1")
    assert resp.status_code == 302
    assert still_in(here)
    assert not still_in(elsewhere)
    user = db.scalars(select(User).where(User.name == "ann")).one()
    db.refresh(user)
    assert user.session_epoch == 1
    assert try_login(app.test_client(), "ann", "another password 1").status_code == 302


def test_logging_out_ends_every_copy_of_the_session(app, make_user) -> None:
    """The session lives in a signed cookie: a copy taken before the logout (a shared
    machine, a stolen cookie) is refused after it, and so are the user's other sessions."""
    make_user("ann")
    here, elsewhere = logged_in(app, "ann"), logged_in(app, "ann")
    copy = app.test_client()
    cookie = here.get_cookie("session")
    assert cookie is not None
    copy.set_cookie("session", cookie.value)
    assert still_in(copy)
    token = csrf_from(here.get("/queue").get_data(as_text=True))
    assert here.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not still_in(copy) and not still_in(elsewhere) and not still_in(here)
    assert still_in(logged_in(app, "ann"))


def test_the_anonymous_csrf_token_does_not_outlive_the_login(app, make_user) -> None:
    """Login CSRF fixation: a token planted with a pre-login cookie is not accepted
    for the user's writes after they log in."""
    make_user("ann")
    client = app.test_client()
    planted = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"name": "ann", "password": PASSWORD,
                                       "csrf_token": planted}).status_code == 302
    fresh = csrf_from(client.get("/queue").get_data(as_text=True))
    assert fresh != planted
    assert client.post("/logout", data={"csrf_token": planted}).status_code == 400
    assert still_in(client)


def test_wrong_current_passwords_count_as_failed_logins(app, make_user) -> None:
    make_user("ann")
    client = logged_in(app, "ann")
    for _ in range(logins.MAX_FAILURES):
        assert change_form(client, "guess", "another password 1").status_code == 403
    resp = change_form(client, PASSWORD, "another password 1")
    assert resp.status_code == 429 and "Retry-After" in resp.headers


def test_a_session_cookie_from_before_epochs_is_refused(app, make_user) -> None:
    user = make_user("ann")
    client = logged_in(app, "ann")
    with client.session_transaction() as sess:
        assert sess["_user_id"] == f"{user.id}:0"
        sess["_user_id"] = str(user.id)  # the old form, without an epoch
    assert not still_in(client)


def session_cookie(resp: object) -> str:
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, resp.headers
    return cookies[-1]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("https", [False, True])
def test_session_cookie_flags(tmp_path, database_url, make_user, https) -> None:
    from web import create_app
    from web.extensions import dispose_engine

    make_user("ann")
    settings = Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "data"),
                                  "DATABASE_URL": database_url,
                                  "HARNESS_HTTPS": "1" if https else "0"})
    app = create_app(settings=settings)
    try:
        client = app.test_client()
        cookie = session_cookie(try_login(client, "ann", PASSWORD))
        flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
        assert "httponly" in flags
        assert flags["samesite"].lower() in ("samesite=lax", "samesite=strict")
        assert ("secure" in flags) is https
        hsts = client.get("/").headers.get("Strict-Transport-Security")
        assert (hsts is not None and "max-age=" in hsts) is https
    finally:
        dispose_engine(app)


@pytest.mark.sqlite_only
def test_a_new_database_file_is_its_owners_alone(tmp_path) -> None:
    """Password and token hashes and every annotation: a new SQLite file (and its WAL) is
    0600 even in a data dir someone made 0755 under a umask of 022."""
    data = tmp_path / "shared"
    data.mkdir(mode=0o755)
    old = os.umask(0o022)
    try:
        env = {**os.environ, "HARNESS_DATA_DIR": str(data)}
        env.pop("DATABASE_URL", None)
        done = subprocess.run([HARNESS, "init"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    finally:
        os.umask(old)
    files = sorted(p.name for p in data.iterdir() if p.name.startswith("harness.db"))
    assert "harness.db" in files
    for name in files:
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_no_default_secret_key(tmp_path) -> None:
    # refused without one when nothing may be created
    with pytest.raises(SettingsError, match="SECRET_KEY is unset"):
        Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "a")}, create=False)
    with pytest.raises(SettingsError, match="at least 16"):
        Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "a"), "SECRET_KEY": "dev"})
    # else one per instance, random, private, kept across starts
    one = Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "one")})
    two = Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "two")})
    assert one.secret_key != two.secret_key and len(one.secret_key) >= 48
    assert Settings.from_env({"HARNESS_DATA_DIR": str(tmp_path / "one")}).secret_key == \
        one.secret_key
    mode = stat.S_IMODE((tmp_path / "one" / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert one.secret_key not in repr(one)
    # and no key is written into the code: no SECRET_KEY = "..." literal in the product
    literal = re.compile(r"""(SECRET_KEY|secret_key)\s*[=:]\s*["'][^"']+["']""")
    found = [f"{path}:{n}" for root in ("harness", "web", "sandboxes", "examples", "bench")
             for path in (REPO / root).rglob("*") if path.suffix in (".py", ".yaml", ".cfg", ".toml", ".env", ".sh")
             for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if literal.search(line)]
    assert found == []
    assert "SECRET_KEY" not in (REPO / "Makefile").read_text() or "SECRET_KEY=" not in \
        (REPO / "Makefile").read_text()

"""Login throttling: failed logins counted per account and per client address.

The failures are rows in the database (`LoginFailure`), not a process's memory, so
every `harness serve` process sharing a database counts the same failures. Once an
account or an address has MAX_FAILURES failures inside WINDOW, further attempts are
refused with RateLimited (429 and Retry-After) before the password is even checked,
so a correct guess in the locked window is refused too. A success clears the
account's count, not the address's (one valid account must not unlock guessing at
others from the same address). Unknown names are counted like known ones, so the
answer does not tell which names exist.

A login (`begin_attempt`) counts itself before its password is checked: its rows are
committed first, then it goes ahead only while no more than MAX_FAILURES rows (its own
among them) are in the window. Of many attempts at once (a password's check takes ~0.3 s
of scrypt, and every server thread and process runs one), at most MAX_FAILURES get their
password checked: the last of them to commit sees all the others' rows.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from harness.db import session_scope
from harness.errors import RateLimited
from harness.models import LoginFailure, utcnow

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)


def _keys(name: str, address: str) -> list[tuple[str, str]]:
    return [(f"user:{name.strip().lower()[:150]}", "this account"),
            (f"addr:{address[:150]}", "this address")]


def check_allowed(session: Session, name: str, address: str,
                  *, now: datetime | None = None) -> None:
    """Raise RateLimited when the account or the address has too many recent failures."""
    now = now or utcnow()
    for key, what in _keys(name, address):
        times = _recent(session, key, now)
        if len(times) >= MAX_FAILURES:
            raise _limited(what, times, now)


def _recent(session: Session, key: str, now: datetime, *, but: int | None = None
            ) -> list[datetime]:
    """The times of the key's last MAX_FAILURES rows in the window (but row `but`)."""
    query = (select(LoginFailure.at)
             .where(LoginFailure.key == key, LoginFailure.at > now - WINDOW)
             .order_by(LoginFailure.at.desc()).limit(MAX_FAILURES))
    if but is not None:
        query = query.where(LoginFailure.id != but)
    return list(session.scalars(query))


def _limited(what: str, times: list[datetime], now: datetime) -> RateLimited:
    # free again when the oldest of the last MAX_FAILURES leaves the window
    wait = max(1, math.ceil((times[-1] + WINDOW - now).total_seconds()))
    return RateLimited(
        "too_many_logins",
        f"too many failed logins for {what}: {MAX_FAILURES} in "
        f"{int(WINDOW.total_seconds() // 60)} minutes; try again in {wait} s",
        field="name", retry_after=wait)


def begin_attempt(factory: sessionmaker[Session], name: str, address: str,
                  *, now: datetime | None = None) -> list[int]:
    """Count this attempt as a failure before its password is checked, in transactions of
    its own (committed, so every concurrent attempt counts it): RateLimited when, with it,
    the account or the address has more than MAX_FAILURES in the window (its rows taken
    back). Returns its rows' ids: left as the failure when the password is wrong,
    `forget_attempt` when it is right."""
    now = now or utcnow()
    keys = _keys(name, address)
    with session_scope(factory) as s:
        s.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
        rows = [LoginFailure(key=key, at=now) for key, _ in keys]
        s.add_all(rows)
        s.flush()
        ids = [row.id for row in rows]
    refused: RateLimited | None = None
    with session_scope(factory) as s:
        for (key, what), row_id in zip(keys, ids, strict=True):
            times = _recent(s, key, now, but=row_id)
            if len(times) >= MAX_FAILURES:
                refused = _limited(what, times, now)
                s.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
                break
    if refused is not None:
        raise refused
    return ids


def forget_attempt(session: Session, ids: list[int], name: str) -> None:
    """The attempt's password was right: its rows go, and the account's failures with
    them (`clear_account`)."""
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
    clear_account(session, name)


def record_failure(session: Session, name: str, address: str,
                   *, now: datetime | None = None) -> None:
    """Count one failed attempt against the account and the address; drop expired rows."""
    now = now or utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    session.add_all(LoginFailure(key=key, at=now) for key, _ in _keys(name, address))
    session.flush()


def clear_account(session: Session, name: str) -> None:
    """A successful login: the account's failures are forgotten (the address's are not)."""
    key = _keys(name, "")[0][0]
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
    session.flush()

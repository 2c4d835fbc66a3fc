"""Login throttling: failed logins counted per account and per client address.

The failures are rows in the database (`LoginFailure`), not a process's memory, so
every `harness serve` process sharing a database counts the same failures. Once an
account or an address has MAX_FAILURES failures inside WINDOW, further attempts are
refused with RateLimited (429 and Retry-After) before the password is even checked,
so a correct guess in the locked window is refused too. A success clears the
account's count, not the address's (one valid account must not unlock guessing at
others from the same address). Unknown names are counted like known ones, so the
answer does not tell which names exist.

A login (`begin_attempt`) counts itself against its account before its password is
checked: its account row is committed first, and it goes ahead only while the account has
fewer than MAX_FAILURES other rows in the window (failures, and attempts still being
checked). Of many guesses at one account at once (a password's check takes ~0.3 s of
scrypt, and every server thread and process runs one), at most MAX_FAILURES get their
password checked. The address counts finished failures only (checked before, recorded
after): a burst of people logging in from one address (an office behind NAT, a team
starting its shift) is never refused for being at once, and guessing spread over many
names from one address may overshoot the address's limit by the attempts in flight.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from harness.errors import RateLimited
from harness.models import LoginFailure, utcnow

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)


def _keys(name: str, address: str) -> list[tuple[str, str]]:
    return [(f"user:{name.strip().lower()[:150]}", "this account"),
            (f"addr:{address[:150]}", "this address")]


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


def begin_attempt(session: Session, name: str, address: str,
                  *, now: datetime | None = None) -> int:
    """Before a password is checked: RateLimited when the address has MAX_FAILURES
    failures in the window, or the account has MAX_FAILURES rows (failures and attempts in
    flight) besides this attempt's own, which is committed first (the session's
    transaction is: a login's request has written nothing before) so that every
    concurrent attempt counts it, and taken back when refused. Returns that row's id:
    `failed` or `succeeded` says how the check went. The request's own session, not one
    of its own: a request holding two pooled connections at once can exhaust the pool
    under a burst of logins, every request waiting for its second."""
    now = now or utcnow()
    (account, account_what), (addr, addr_what) = _keys(name, address)
    times = _recent(session, addr, now)
    if len(times) >= MAX_FAILURES:
        raise _limited(addr_what, times, now)
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    row = LoginFailure(key=account, at=now)
    session.add(row)
    session.flush()
    row_id = row.id
    session.commit()
    times = _recent(session, account, now, but=row_id)
    if len(times) >= MAX_FAILURES:
        session.execute(delete(LoginFailure).where(LoginFailure.id == row_id))
        session.commit()
        raise _limited(account_what, times, now)
    return row_id


def failed(session: Session, address: str, *, now: datetime | None = None) -> None:
    """The attempt's password was wrong: its account row (`begin_attempt`) stays as the
    failure, and the address gets one (committed with the answer)."""
    session.add(LoginFailure(key=_keys("", address)[1][0], at=now or utcnow()))
    session.flush()


def succeeded(session: Session, attempt: int, name: str) -> None:
    """The attempt's password was right: its row goes, and the account's failures with it
    (`clear_account`)."""
    session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))
    clear_account(session, name)


def clear_account(session: Session, name: str) -> None:
    """A successful login: the account's failures are forgotten (the address's are not)."""
    key = _keys(name, "")[0][0]
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
    session.flush()

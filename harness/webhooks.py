"""Webhooks: signed JSON events on a durable queue, refused towards internal addresses.

Events: annotation.submitted, task.completed (its k-th submission), project.completed
(every task completed). `emit` adds one WebhookDelivery row per active webhook of the
project, in the caller's transaction, so an event exists exactly when the annotation
does. `deliver_due` sends what is due and retries failures with exponential backoff
until MAX_ATTEMPTS.

Several processes send at once (every `harness serve` and `harness worker` runs one
DeliveryLoop; `harness webhook deliver` is a third way). A delivery is sent by whoever
claims it: one conditional UPDATE moves its next_attempt_at a lease ahead (and counts
the attempt) only if it is still queued and due, and commits before anything is sent.
The database decides between two claimers (SQLite serialises writers; PostgreSQL
re-checks the WHERE on the row it waited for), so exactly one gets a row count of 1.
A sender that dies between claim and outcome leaves the row queued, due again when the
lease ends: at least once, never twice in a row; X-Harness-Delivery lets a receiver drop
a repeat.

Server-side request forgery: a URL whose host resolves to a loopback, private,
link-local, multicast, reserved or unspecified address is refused when the webhook is
added, and again at every send after a fresh DNS lookup (a name can be re-pointed);
the connection then goes to the address that was checked, never to a second lookup.
Only hosts named in HARNESS_WEBHOOK_ALLOW (the admin's allow-list) are exempt.

The body is signed: X-Harness-Signature: sha256=HEX(HMAC-SHA256(secret, body)), with
the delivery id and event in their own headers so a receiver can drop duplicates. The
body carries the delivery id and the attempt's time too (`delivery`, `sent_at`), under
the signature, so a receiver can also refuse a replayed capture (`signed_body`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from harness import audit, settings
from harness.errors import InvalidInput
from harness.models import (
    Assignment,
    Project,
    Task,
    Webhook,
    WebhookDelivery,
    utcnow,
)

EVENTS = ("annotation.submitted", "task.completed", "project.completed")
MAX_ATTEMPTS = 8
BACKOFF_S = 30.0
"""First retry after 30 s, then doubling: 30 s, 1 min, 2 min ... about an hour in all."""
TIMEOUT_S = 10.0
BATCH = 100
SEND_DEADLINE_S = 20.0
"""A send's whole time, however slowly the receiver connects or answers: its socket is shut
down then. TIMEOUT_S alone bounds each read, and a receiver that drips a byte a second
would hold the (one) delivery thread of a process for as long as it liked."""
LEASE_S = 60.0
"""How long a claimed delivery is not due for anyone else: longer than a send can take
(SEND_DEADLINE_S), so no second sender takes a delivery still in flight."""
SIGNATURE = "X-Harness-Signature"

Resolver = Callable[[str, int], list[str]]
log = logging.getLogger(__name__)


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _internal(address: str) -> bool:
    """Anything but a globally reachable unicast address: loopback, private, link-local,
    shared (100.64/10, carrier NAT and cloud metadata), reserved; an IPv6 address that
    embeds an IPv4 one (mapped, 6to4, Teredo) is judged by that one as well."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if any(v4 is not None and _internal(str(v4)) for v4 in embedded):
            return True
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    return (not ip.is_global or ip.is_loopback or ip.is_private or ip.is_link_local
            or ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, allow: Iterable[str], resolver: Resolver = resolve
              ) -> tuple[str, int, str]:
    """(host, port, address to connect to), or InvalidInput saying why the URL is refused."""
    try:  # a port out of range, an unclosed [IPv6 literal
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidInput("invalid", f"not a URL: {exc}", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("invalid", "a webhook URL is http:// or https:// with a host",
                           field="url")
    if parts.username or parts.password:
        raise InvalidInput("invalid", "no credentials in the URL", field="url")
    host = parts.hostname.lower()
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise InvalidInput("unresolvable", f"{host} does not resolve: {exc}", field="url") from None
    if not addresses:
        raise InvalidInput("unresolvable", f"{host} does not resolve", field="url")
    if host not in set(allow):
        internal = [a for a in addresses if _internal(a)]
        if internal:
            raise InvalidInput(
                "internal_address",
                f"{host} resolves to {internal[0]}, a loopback, private or link-local "
                "address; an admin can allow it with HARNESS_WEBHOOK_ALLOW", field="url")
    return host, port, addresses[0]


def _allow(session: Session) -> tuple[str, ...]:
    found = settings.of(session)
    return found.webhook_allow if found is not None else ()


def add_webhook(session: Session, project: Project, url: str, events: Iterable[str] = EVENTS,
                *, resolver: Resolver = resolve) -> tuple[Webhook, str]:
    """Add a webhook; returns it and its signing secret (shown once to whoever adds it)."""
    wanted = list(dict.fromkeys(events))
    unknown = [e for e in wanted if e not in EVENTS]
    if unknown or not wanted:
        raise InvalidInput("invalid", f"events are some of {', '.join(EVENTS)}", field="events")
    check_url(url, _allow(session), resolver)
    secret = secrets.token_hex(32)
    hook = Webhook(project_id=project.id, url=url, secret=secret, events=wanted)
    session.add(hook)
    session.flush()
    audit.record(session, "webhook.add", project_id=project.id, object_type="webhook",
                 object_id=hook.id, url=url, events=wanted)
    return hook, secret


def emit(session: Session, project_id: int, event: str, payload: dict[str, Any],
         now: datetime | None = None) -> int:
    """Queue the event for each active webhook of the project that wants it."""
    now = now or utcnow()
    hooks = session.scalars(select(Webhook).where(Webhook.project_id == project_id,
                                                  Webhook.active.is_(True))).all()
    queued = 0
    for hook in hooks:
        if event in (hook.events or []):
            session.add(WebhookDelivery(webhook_id=hook.id, event=event, next_attempt_at=now,
                                        payload={"event": event, **payload}))
            queued += 1
    if queued:
        session.flush()
    return queued


_ANY = select(exists().where(Webhook.project_id == bindparam("project_id")))


def any_for(session: Session, project_id: int) -> bool:
    """Has the project any webhook? (a submit asks before it takes the annotation-id lock,
    and calls `annotation_submitted` only when it has)"""
    return bool(session.scalar(_ANY, {"project_id": project_id}))


def annotation_submitted(session: Session, assignment: Assignment, annotation_id: int,
                         version: int) -> None:
    """The events one submission causes (the caller saw `any_for` the project): always
    annotation.submitted; task.completed on the first version that brings the task to
    its k submissions; project.completed when that was the last task."""
    project = session.get(Project, assignment.project_id)
    if project is None:
        return
    task = session.get(Task, assignment.task_id)
    ext = task.external_id if task is not None else ""
    base = {"project": project.slug, "task_id": ext}
    emit(session, project.id, "annotation.submitted",
         base | {"annotation_id": annotation_id, "version": version})
    if version != 1:
        return
    submitted = session.scalar(select(func.count(Assignment.id)).where(
        Assignment.task_id == assignment.task_id, Assignment.state == "submitted")) or 0
    if submitted != project.overlap:
        return
    emit(session, project.id, "task.completed", base)
    done = (select(func.count(Assignment.id))
            .where(Assignment.task_id == Task.id, Assignment.state == "submitted")
            .correlate(Task).scalar_subquery())
    open_tasks = session.scalar(select(func.count(Task.id)).where(
        Task.project_id == project.id, done < project.overlap)) or 0
    if open_tasks == 0:
        emit(session, project.id, "project.completed", {"project": project.slug})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_body(payload: dict[str, Any], delivery_id: int, sent_at: datetime) -> bytes:
    """The bytes sent and signed: the event's payload with the delivery's id and the time
    of this attempt. Inside the signature, they let a receiver refuse a captured delivery
    replayed later (an old `sent_at`) or again under another X-Harness-Delivery (the
    header is not signed; the body's `delivery` is)."""
    return json.dumps({**payload, "delivery": delivery_id, "sent_at": sent_at.isoformat()},
                      separators=(",", ":"), sort_keys=True).encode()


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, not to a fresh lookup of the host."""

    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_S)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), TIMEOUT_S)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As _PinnedHTTP, with the certificate checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: str) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=TIMEOUT_S, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), TIMEOUT_S)
        # the TLS socket owns the connection before its handshake, so the send's deadline
        # (which shuts down self.sock) cuts a handshake that drips too
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host,
                                         do_handshake_on_connect=False)
        self.sock.do_handshake()


def _post(url: str, address: str, port: int, host: str, body: bytes,
          headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pinned = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    conn = pinned(host, port, address)
    cut = threading.Event()

    def deadline() -> None:  # a blocked connect, read or write returns at once
        cut.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(SEND_DEADLINE_S, deadline)
    timer.daemon = True
    timer.start()
    status = None
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        status = response.status  # the receiver's answer: what the deadline may cut is
        response.read(64 * 1024)  # the rest of its body, read only to end the exchange
        return status
    except Exception:
        if status is not None and cut.is_set():
            return status  # answered; sending it again would deliver it twice
        if cut.is_set():  # whatever the cut socket raised (the TLS layer: not only OSError)
            raise TimeoutError(f"no answer within {SEND_DEADLINE_S:g} s") from None
        raise
    finally:
        timer.cancel()
        conn.close()


def claim(session: Session, delivery_id: int, now: datetime) -> bool:
    """Take the delivery for this sender if it is still queued and due: True for exactly
    one of several concurrent claimers. Counts the attempt; the caller commits."""
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == "queued",
               WebhookDelivery.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(seconds=LEASE_S),
                attempts=WebhookDelivery.attempts + 1)
        .execution_options(synchronize_session=False))
    return getattr(result, "rowcount", 0) == 1


def deliver_due(factory: sessionmaker[Session], *, now: datetime | None = None, limit: int = 100,
                resolver: Resolver = resolve) -> dict[str, int]:
    """Send what is due and this sender claims; nothing is held locked while it sends.
    Counts by outcome."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    now = now or utcnow()
    started = time.monotonic()

    def current() -> datetime:
        """The round's `now` moved on by the time its sends took: a claim's lease and a
        retry's backoff count from when they are made, not from the round's start (a
        round of slow receivers outlasts a lease, and another sender would take the
        delivery still in flight)."""
        return now + timedelta(seconds=time.monotonic() - started)

    with factory() as session:
        due = list(session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.state == "queued",
                                             WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)))
    for delivery_id in due:
        with factory() as session:
            if not claim(session, delivery_id, current()):
                session.rollback()
                continue  # another sender has it
            session.commit()
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            hook = session.get(Webhook, delivery.webhook_id)
            assert hook is not None
            url, secret, event = hook.url, hook.secret, delivery.event
            body = signed_body(delivery.payload, delivery_id, current())
            allow = _allow(session)
            session.rollback()  # no transaction stays open while we wait on the receiver
            error = None
            refused = False
            try:
                host, port, address = check_url(url, allow, resolver)
                status = _post(url, address, port, host, body, {
                    "Content-Type": "application/json",
                    SIGNATURE: sign(secret, body),
                    "X-Harness-Event": event,
                    "X-Harness-Delivery": str(delivery_id),
                })
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except InvalidInput as exc:
                error, refused = exc.message, True  # refused: no point retrying
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            if refused:
                delivery.attempts = MAX_ATTEMPTS
            if error is None:
                delivery.state, delivery.sent_at, delivery.last_error = "sent", utcnow(), None
                counts["sent"] += 1
            elif delivery.attempts >= MAX_ATTEMPTS:
                delivery.state, delivery.last_error = "failed", error[:2000]
                counts["failed"] += 1
            else:
                delivery.last_error = error[:2000]
                delivery.next_attempt_at = current() + timedelta(
                    seconds=BACKOFF_S * 2 ** (delivery.attempts - 1))
                counts["retry"] += 1
            session.commit()
    return counts


class DeliveryLoop:
    """Sends due deliveries every `interval` seconds in a daemon thread, until stop() or
    the process ends. One per process (start_delivery_loop)."""

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        self.factory = factory
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                while not self.stopping.is_set():
                    if sum(deliver_due(self.factory, limit=BATCH).values()) < BATCH:
                        break  # else a full batch may have left more due
            except Exception:  # the process keeps working; the next round tries again
                log.exception("webhook delivery round failed")
            self.stopping.wait(self.interval)

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout)


_loop: DeliveryLoop | None = None
_loop_lock = threading.Lock()


def start_delivery_loop(factory: sessionmaker[Session], poll_ms: int) -> DeliveryLoop | None:
    """This process's delivery loop, started on the first call (None when poll_ms is 0)."""
    global _loop
    if poll_ms <= 0:
        return None
    with _loop_lock:
        if _loop is None or not _loop.thread.is_alive():
            _loop = DeliveryLoop(factory, poll_ms / 1000)
            _loop.thread.start()
        return _loop

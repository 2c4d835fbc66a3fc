"""Webhooks: internal addresses refused (at add and again at send, after DNS) unless
allow-listed; an allowed local receiver gets every event, signed; failures back off."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from helpers import DEMO_TASKS
from sqlalchemy import func, select

from harness import simulate, webhooks
from harness.db import make_sessionmaker
from harness.errors import InvalidInput
from harness.models import Task, WebhookDelivery, utcnow


def _factory(db, settings, allow=("127.0.0.1",)):
    return make_sessionmaker(db.get_bind(), replace(settings, webhook_allow=tuple(allow)))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x",
    "http://169.254.169.254/latest/meta-data", "http://192.168.0.1/", "ftp://example.org/",
    # shared address space (carrier NAT; Alibaba Cloud's metadata at 100.100.100.200),
    # and IPv6 forms that carry loopback or metadata inside (6to4, Teredo, mapped)
    "http://100.64.0.1:8080/x", "http://100.100.100.200/", "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::]/", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    "http://[::ffff:127.0.0.1]/", "http://198.18.0.1/",
    # not URLs at all: a port out of range, an unclosed IPv6 literal
    "http://127.0.0.1:99999/", "http://[::1/", "https://example.org:0x50/",
])
def test_internal_or_odd_urls_are_refused(db, make_project, url) -> None:
    project = make_project("p")
    with pytest.raises(InvalidInput):
        webhooks.add_webhook(db, project, url)


def test_refused_again_at_send_after_dns(db, make_project, settings) -> None:
    """A name that resolved to a public address when added and to loopback at send."""
    project = make_project("p")
    answers = {"hook.example": ["93.184.216.34"]}
    hook, _ = webhooks.add_webhook(db, project, "http://hook.example/x",
                                   resolver=lambda host, port: answers[host])
    webhooks.emit(db, project.id, "annotation.submitted", {"project": "p"})
    db.commit()
    answers["hook.example"] = ["127.0.0.1"]
    counts = webhooks.deliver_due(_factory(db, settings, allow=()),
                                  resolver=lambda host, port: answers[host])
    assert counts == {"sent": 0, "retry": 0, "failed": 1}
    delivery = db.scalars(select(WebhookDelivery)).one()
    db.refresh(delivery)
    assert delivery.state == "failed" and "127.0.0.1" in delivery.last_error


def test_allowed_local_receiver_gets_signed_events(db, make_project, import_file, settings,
                                                   receiver) -> None:
    recv = receiver()
    factory = _factory(db, settings)
    with factory() as s:
        project = make_project("p", overlap=1)
        import_file(project, DEMO_TASKS)
        project = s.merge(project)
        hook, secret = webhooks.add_webhook(s, project, recv.url)
        simulate.simulate(s, project, 1, seed=2)
        s.commit()
    tasks = db.scalar(select(func.count(Task.id)).where(Task.project_id == project.id))
    counts = webhooks.deliver_due(factory, limit=1000)
    assert counts["sent"] == 2 * tasks + 1 and counts["failed"] == 0
    events = []
    for headers, body in recv.received:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Harness-Signature"], expected)
        events.append(json.loads(body)["event"])
    assert events.count("annotation.submitted") == tasks
    assert events.count("task.completed") == tasks
    assert events[-1] == "project.completed" and events.count("project.completed") == 1


def test_failures_back_off_and_retry(db, make_project, settings, receiver) -> None:
    recv = receiver(statuses=[500, 503])
    factory = _factory(db, settings)
    with factory() as s:
        project = s.merge(make_project("p"))
        webhooks.add_webhook(s, project, recv.url, ["annotation.submitted"])
        webhooks.emit(s, project.id, "annotation.submitted", {"project": "p"})
        s.commit()
    now = utcnow()
    assert webhooks.deliver_due(factory, now=now)["retry"] == 1
    assert webhooks.deliver_due(factory, now=now + timedelta(seconds=10)) == {
        "sent": 0, "retry": 0, "failed": 0}  # not due yet
    assert webhooks.deliver_due(factory, now=now + timedelta(seconds=31))["retry"] == 1
    assert webhooks.deliver_due(factory, now=now + timedelta(seconds=60))["retry"] == 0
    assert webhooks.deliver_due(factory, now=now + timedelta(seconds=92))["sent"] == 1
    delivery = db.scalars(select(WebhookDelivery)).one()
    db.refresh(delivery)
    assert delivery.state == "sent" and delivery.attempts == 3 and len(recv.received) == 3


def test_a_receiver_can_refuse_a_replayed_delivery(db, make_project, settings,
                                                   receiver) -> None:
    """A receiver that checks the signature, drops ids it has seen and refuses a stale
    time: both attempts of one delivery pass (the same signed id, a fresh time each),
    and a capture sent again under a new X-Harness-Delivery header, or days later,
    is refused. Before, the body held neither the id nor a time: a capture verified
    for ever, and a changed header made it a new delivery."""
    recv = receiver(statuses=[500])
    factory = _factory(db, settings)
    with factory() as s:
        project = s.merge(make_project("p"))
        _, secret = webhooks.add_webhook(s, project, recv.url, ["annotation.submitted"])
        webhooks.emit(s, project.id, "annotation.submitted", {"project": "p"})
        s.commit()
    now = utcnow()
    assert webhooks.deliver_due(factory, now=now)["retry"] == 1
    assert webhooks.deliver_due(factory, now=now + timedelta(seconds=31))["sent"] == 1
    seen: set[int] = set()

    def accepts(headers, body: bytes, at) -> bool:  # type: ignore[no-untyped-def]
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers["X-Harness-Signature"], expected):
            return False
        event = json.loads(body)
        if "sent_at" not in event or "delivery" not in event:
            return False
        sent = datetime.fromisoformat(event["sent_at"])
        if abs((at - sent).total_seconds()) > 300 or event["delivery"] in seen:
            return False
        seen.add(event["delivery"])
        return True

    (first_headers, first), (retry_headers, retry) = recv.received
    assert first != retry  # each attempt says when it was sent
    assert json.loads(first)["delivery"] == int(first_headers["X-Harness-Delivery"])
    assert accepts(first_headers, first, now)
    seen.clear()  # the receiver answered 500: it did not keep the first attempt
    assert accepts(retry_headers, retry, now + timedelta(seconds=31))
    replayed = {**retry_headers, "X-Harness-Delivery": "999"}
    assert not accepts(replayed, retry, now + timedelta(seconds=40))
    seen.clear()
    assert not accepts(retry_headers, retry, now + timedelta(days=3))

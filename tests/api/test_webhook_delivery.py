"""Webhooks go out without an operator: several senders at once send each delivery
once (claimed atomically), and `harness serve` alone delivers a submit made through the
web app to a signed local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from helpers import PASSWORD, task_line, write_jsonl
from sqlalchemy import select

from harness import webhooks
from harness.db import make_sessionmaker
from harness.models import WebhookDelivery

HARNESS = str(Path(sys.executable).parent / "harness")
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_off_at_the_deadline(
        db, make_project, settings, monkeypatch, scheme) -> None:
    """Each read's timeout alone let a receiver that drips its answer (a byte every half
    second here) hold the delivery thread as long as it liked, past the claim's lease
    (then a second sender took the delivery and sent it again). The whole send has a
    deadline; the delivery is retried later, with the reason."""
    monkeypatch.setattr(webhooks, "SEND_DEADLINE_S", 2.0)
    tls = scheme == "https"
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            # plain: an answer's head; TLS: a handshake record's header and body
            drip = (b"\x16\x03\x03\x00\x40" + b"\x02" * 60 if tls
                    else b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 60)
            for byte in drip:  # 30 s if let run
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.5)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    factory = make_sessionmaker(db.get_bind(), replace(settings, webhook_allow=("127.0.0.1",)))
    with factory() as s:
        project = s.merge(make_project("p"))
        webhooks.add_webhook(s, project, f"{scheme}://127.0.0.1:{port}/hook",
                             ["annotation.submitted"])
        webhooks.emit(s, project.id, "annotation.submitted", {"n": 1})
        s.commit()
    started = time.monotonic()
    counts = webhooks.deliver_due(factory)
    took = time.monotonic() - started
    stop.set()
    server.close()
    assert counts == {"sent": 0, "retry": 1, "failed": 0} and took < 10, (counts, took)
    with factory() as s:
        delivery = s.scalars(select(WebhookDelivery)).one()
        assert delivery.state == "queued" and "no answer within 2 s" in (delivery.last_error or "")


def test_a_round_of_slow_sends_keeps_each_delivery_to_one_sender(
        db, make_project, settings, monkeypatch) -> None:
    """A round that sends to a slow receiver outlasts a lease: each claim's lease must
    count from when it is taken, not from the round's start, or another process's loop
    takes a delivery the round has not sent yet and both send it."""
    monkeypatch.setattr(webhooks, "SEND_DEADLINE_S", 1.0)
    monkeypatch.setattr(webhooks, "LEASE_S", 2.0)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received: list[str] = []
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            head = conn.recv(65536).decode("latin-1")
            found = re.search(r"X-Harness-Delivery: (\d+)", head)
            received.append(found.group(1) if found else "?")
            stop.wait(1.5)  # no answer before the sender's deadline

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    allowed = replace(settings, webhook_allow=("127.0.0.1",))
    factory = make_sessionmaker(db.get_bind(), allowed)
    with factory() as s:
        project = s.merge(make_project("p"))
        webhooks.add_webhook(s, project, f"http://127.0.0.1:{port}/slow",
                             ["annotation.submitted"])
        for i in range(3):
            webhooks.emit(s, project.id, "annotation.submitted", {"n": i})
        s.commit()
    first = threading.Thread(target=webhooks.deliver_due,
                             args=(make_sessionmaker(db.get_bind(), allowed),))
    first.start()
    time.sleep(2.5)  # the first round is on its third send (1 s each), 2.5 s into it
    webhooks.deliver_due(make_sessionmaker(db.get_bind(), allowed))  # another process
    first.join()
    stop.set()
    server.close()
    counts = Counter(received)
    assert len(counts) == 3 and set(counts.values()) == {1}, counts


def test_concurrent_senders_send_each_delivery_once(db, make_project, settings,
                                                     receiver) -> None:
    recv = receiver(delay=0.02)  # a slow receiver widens the window between check and send
    allowed = replace(settings, webhook_allow=("127.0.0.1",))
    factory = make_sessionmaker(db.get_bind(), allowed)
    with factory() as s:
        project = s.merge(make_project("p"))
        webhooks.add_webhook(s, project, recv.url, ["annotation.submitted"])
        for i in range(30):
            webhooks.emit(s, project.id, "annotation.submitted", {"n": i})
        s.commit()
    start = threading.Barrier(4)
    totals: list[dict[str, int]] = []

    def sender() -> None:
        mine = make_sessionmaker(db.get_bind(), allowed)
        start.wait()
        totals.append(webhooks.deliver_due(mine))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ids = Counter(headers["X-Harness-Delivery"] for headers, _ in recv.received)
    assert len(ids) == 30 and set(ids.values()) == {1}, ids.most_common(3)
    assert sum(t["sent"] for t in totals) == 30
    db.expire_all()
    rows = db.scalars(select(WebhookDelivery)).all()
    assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_alone_delivers_a_web_submit_signed(db, make_project, make_user, import_file,
                                                 settings, receiver, tmp_path) -> None:
    recv = receiver()
    project = make_project("p", overlap=1)
    import_file(project, write_jsonl(tmp_path / "t.jsonl", [task_line("t1")]))
    make_user("ann", projects=["p"])
    factory = make_sessionmaker(db.get_bind(), replace(settings, webhook_allow=("127.0.0.1",)))
    with factory() as s:
        _, secret = webhooks.add_webhook(s, s.merge(project), recv.url)
        s.commit()
    port = _free_port()
    env = {**os.environ, "HARNESS_DATA_DIR": str(settings.data_dir),
           "DATABASE_URL": settings.database_url, "HARNESS_WEBHOOK_ALLOW": "127.0.0.1",
           "HARNESS_WEBHOOK_POLL_MS": "200", "HARNESS_INPROCESS_WORKER": "0"}
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        server = subprocess.Popen([HARNESS, "serve", "--port", str(port)], env=env, stdout=fh,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        http = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            try:
                page = http.get(f"{base}/login", timeout=2).text
                break
            except requests.RequestException:
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.1)
        http.post(f"{base}/login", timeout=10, data={
            "name": "ann", "password": PASSWORD, "csrf_token": CSRF.search(page).group(1)})
        queue = http.get(f"{base}/queue", timeout=10).text
        claimed = http.post(f"{base}/queue", timeout=10,
                            data={"csrf_token": CSRF.search(queue).group(1)})
        assignment = re.search(r"/p/p/a/(\d+)$", claimed.url).group(1)
        data = json.loads(re.search(r'id="page-data">(.*?)</script>', claimed.text,
                                    re.S).group(1))
        token = re.search(r'name="csrf-token" content="([^"]+)"', claimed.text).group(1)
        ids = [c["id"] for c in data["candidates"]]
        draft = {"scores": {str(c): {k["key"]: k["max"] for k in data["rubric"]["criteria"]}
                            for c in ids},
                 "ranking": [[i] for i in ids], "confidence": 3, "findings": [],
                 "rationale": "Both read the same; the first handles the edge case."}
        resp = http.post(f"{base}/p/p/a/{assignment}/submit", timeout=20,
                         json={"draft": draft, "acknowledge_warnings": True},
                         headers={"X-CSRFToken": token})
        assert resp.status_code == 200 and resp.json()["ok"], resp.text
        # annotation.submitted, task.completed (k = 1) and project.completed (one task)
        assert recv.wait_for(3, timeout=30), (recv.received, log.read_text())
        events = []
        for headers, body in recv.received:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-Harness-Signature"], expected)
            events.append(json.loads(body)["event"])
        assert sorted(events) == ["annotation.submitted", "project.completed",
                                  "task.completed"]
        assert json.loads(recv.received[0][1])["task_id"] == "t1"
        # The receiver has the third body a moment before the sender records it as sent.
        deadline = time.monotonic() + 30
        while True:
            db.expire_all()
            states = {r.state for r in db.scalars(select(WebhookDelivery))}
            db.rollback()
            if states == {"sent"} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert states == {"sent"}, log.read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    time.sleep(0.5)
    assert len(recv.received) == 3  # nothing sent twice


def test_worker_delivers_due_events_and_stops_with_its_process(db, make_project, settings,
                                                               receiver, tmp_path) -> None:
    from helpers import TESTS

    recv = receiver()
    factory = make_sessionmaker(db.get_bind(), replace(settings, webhook_allow=("127.0.0.1",)))
    with factory() as s:
        project = s.merge(make_project("p"))
        webhooks.add_webhook(s, project, recv.url, ["annotation.submitted"])
        webhooks.emit(s, project.id, "annotation.submitted", {"project": "p"})
        s.commit()
    env = {**os.environ, "HARNESS_DATA_DIR": str(settings.data_dir),
           "DATABASE_URL": settings.database_url, "HARNESS_WEBHOOK_ALLOW": "127.0.0.1",
           "HARNESS_WEBHOOK_POLL_MS": "200",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path / "worker.log"
    with log.open("wb") as fh:
        worker = subprocess.Popen([HARNESS, "worker", "--executor", "helpers.runs:echo_runner"],
                                  env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        assert recv.wait_for(1, timeout=30), log.read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log.read_text()
    assert json.loads(recv.received[0][1])["event"] == "annotation.submitted"

"""The simulated annotators of bench/load.py: each one's browser (`Client`: a keep-alive
connection, its session cookie and CSRF token), its schedule of writes (`Pace`, with
--rate), the run's shared start and end (`Clock`) and the loop an annotator runs (claim,
open the page, autosave, submit or skip; or walk away and come back after its lease).
What they record goes into load_checks.Stats."""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
import urllib.parse
from typing import Any

from load_checks import Stats

PASSWORD = "load-test-password"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PAGE_DATA_RE = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)


class Client:
    """One annotator's browser: a keep-alive connection, its session cookie, its token."""

    def __init__(self, port: int, stats: Stats) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        self.token = ""
        self.stats = stats

    def request(self, kind: str, method: str, path: str, body: bytes | None = None,
                content_type: str = "", due: float = 0.0) -> tuple[int, dict[str, str], str]:
        """One request; its time is counted from `due` (a perf_counter time) when given."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if content_type:
            headers["Content-Type"] = content_type
        if method == "POST" and self.token:
            headers["X-CSRFToken"] = self.token
        start = due or time.perf_counter()
        if start < self.stats.counted_from:
            kind = "warm-up"
        elif start >= self.stats.counted_until:
            kind = "overtime"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        self.stats.record(kind, time.perf_counter() - start, resp.status)
        cookie = resp.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if resp.status >= 500:
            with self.stats.lock:
                self.stats.errors.append(f"{method} {path}: {resp.status} {text[:200]}")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text

    def form(self, kind: str, path: str, data: dict[str, str]) -> tuple[int, dict[str, str], str]:
        body = urllib.parse.urlencode(data | {"csrf_token": self.token}).encode()
        return self.request(kind, "POST", path, body, "application/x-www-form-urlencoded")

    def json(self, kind: str, path: str, data: dict[str, Any], due: float = 0.0
             ) -> tuple[int, dict[str, str], str]:
        return self.request(kind, "POST", path, json.dumps(data).encode(), "application/json",
                            due)


class Pace:
    """An annotator's schedule of writes at `rate` a second on average (Poisson), or none
    (rate 0: each write as soon as the last is answered)."""

    def __init__(self, rate: float, rnd: random.Random) -> None:
        self.mean = 1.0 / rate if rate > 0 else 0.0
        self.rnd = rnd
        self.due = 0.0

    def begin(self) -> None:
        """The first page was just shown: the first write is due a random wait from now.
        Later tasks keep to the same schedule: a write that falls due while its annotator
        claims and opens the next task is sent late, and counted from when it was due."""
        if self.mean and not self.due:
            self.due = time.perf_counter() + self.rnd.expovariate(1.0 / self.mean)

    def wait(self) -> float:
        """Sleep until the next write is due; its due time (0 when unpaced)."""
        if not self.mean:
            return 0.0
        due = self.due
        self.due += self.rnd.expovariate(1.0 / self.mean)
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        return due


def payload(page: dict[str, Any]) -> dict[str, Any]:
    ids = [c["id"] for c in page["candidates"]]
    criteria = page["rubric"]["criteria"]
    return {
        "findings": [],
        "scores": {str(c): {k["key"]: k["max"] for k in criteria} for c in ids},
        "ranking": [[ids[0]], ids[1:]],
        "rationale": "The first candidate reads best; the others are equivalent.",
        "confidence": 4,
    }


class Clock:
    """Logins (scrypt, ~0.3 s of CPU each) happen before the clock starts: it starts when
    every annotator and the main thread have reached `ready`, before any is let go.

    The annotators who walk away (--abandon) claim first, and the rest start once they
    have their tasks (or after 10 s): claimed in the first burst of 50, a walk-away's
    lease could start too late in a short run to run out (seen on a loaded machine)."""

    def __init__(self, parties: int, seconds: float, walkaways: int = 0) -> None:
        self.seconds = seconds
        self.end = 0.0
        self.ready = threading.Barrier(parties, action=self._start)
        self._walkaways = walkaways
        self._lock = threading.Lock()
        self.walkaways_claimed = threading.Event()
        if not walkaways:
            self.walkaways_claimed.set()

    def _start(self) -> None:
        self.end = time.monotonic() + self.seconds

    def walkaway_claimed(self) -> None:
        with self._lock:
            self._walkaways -= 1
            if self._walkaways <= 0:
                self.walkaways_claimed.set()


def annotator(name: str, port: int, clock: Clock, stats: Stats, seed: int,
              abandon_after: float = 0, autosaves: int = 2, rate: float = 0.0) -> None:
    """One annotator's run; `rate`: its own writes a second (0: unpaced)."""
    try:
        _annotate(name, port, clock, stats, seed, abandon_after, autosaves, rate)
    except Exception as exc:  # counted as a problem, never lost in a thread's stderr
        with stats.lock:
            stats.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        clock.ready.abort()


def _annotate(name: str, port: int, clock: Clock, stats: Stats, seed: int,
              abandon_after: float, autosaves: int, rate: float) -> None:
    rnd = random.Random(seed)
    pace = Pace(rate, rnd)
    client = Client(port, stats)
    _, _, html = client.request("login_page", "GET", "/login")
    client.token = CSRF_RE.search(html).group(1)  # type: ignore[union-attr]
    status, _, _ = client.form("login", "/login", {"name": name, "password": PASSWORD})
    if status != 302:
        raise RuntimeError(f"login gave {status}")
    _, _, html = client.request("queue_page", "GET", "/p/load/queue")
    client.token = CSRF_RE.search(html).group(1)  # type: ignore[union-attr]
    clock.ready.wait(timeout=300)
    if not abandon_after:
        clock.walkaways_claimed.wait(timeout=10)
    first = True
    while time.monotonic() < clock.end:
        status, headers, _ = client.form("claim", "/p/load/queue", {})
        if abandon_after and first:
            clock.walkaway_claimed()
            first = False
        if status != 302:
            time.sleep(0.2)  # nothing left for this annotator; ask again later
            continue
        page_path = urllib.parse.urlsplit(headers["location"]).path
        _, _, html = client.request("review_page", "GET", page_path)
        match = PAGE_DATA_RE.search(html)
        if match is None:
            stats.errors.append(f"{name}: no page data at {page_path}")
            continue
        page = json.loads(match.group(1))
        draft = payload(page)
        if abandon_after:
            _abandon(client, page, page_path, draft, clock, stats, abandon_after)
            break
        pace.begin()
        for _ in range(autosaves):
            due = pace.wait()
            if time.monotonic() >= clock.end:
                break
            client.json("draft", page["urls"]["draft"], {"draft": draft, "active_seconds": 1},
                        due)
        if time.monotonic() >= clock.end:
            break
        if rnd.random() < 0.1:
            client.form("skip", page_path + "/skip", {"reason": "load test"})
            continue
        due = pace.wait()
        if time.monotonic() >= clock.end:
            break
        status, _, text = client.json("submit", page["urls"]["submit"],
                                      {"draft": draft, "active_seconds": 1}, due)
        if status == 200:
            body = json.loads(text)
            with stats.lock:
                stats.submitted.append((int(page_path.rsplit("/", 1)[1]), int(body["version"])))
    client.conn.close()


def _abandon(client: Client, page: dict[str, Any], page_path: str, draft: dict[str, Any],
             clock: Clock, stats: Stats, lease: float) -> None:
    """Save once, walk away past the lease, then try to save again."""
    assignment_id = int(page_path.rsplit("/", 1)[1])
    client.json("draft", page["urls"]["draft"], {"draft": draft, "active_seconds": 1})
    client.conn.close()  # a browser tab closed: no heartbeat, no save
    back = time.monotonic() + lease + 2
    if back + 1 > clock.end:  # claimed too late for its lease to run out in the run
        with stats.lock:
            stats.too_late += 1
        return
    time.sleep(back - time.monotonic())
    status, _, _ = client.json("late_draft", page["urls"]["draft"],
                               {"draft": draft, "active_seconds": 1})
    with stats.lock:
        stats.abandoned.append(assignment_id)
        if status == 200:
            stats.revived.append(assignment_id)
        elif status == 409:
            stats.late_refused += 1
        else:
            stats.errors.append(f"a late draft save answered {status}")

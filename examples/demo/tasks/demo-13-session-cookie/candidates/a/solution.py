"""HMAC-signed, JSON-encoded session cookies."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: bytes) -> str:
    return _b64encode(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def dump_session(data: dict[str, Any], secret: bytes) -> str:
    """Serialise ``data`` as JSON and append an HMAC-SHA256 signature."""
    payload = _b64encode(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_sign(payload, secret)}"


def load_session(cookie: str, secret: bytes) -> dict[str, Any] | None:
    """Return the session dict, or ``None`` if the cookie is not authentic.

    The signature is verified (in constant time) before the payload is
    decoded, and the payload is plain JSON, so nothing executable is ever
    deserialised.
    """
    payload, sep, signature = cookie.rpartition(".")
    if not sep or not payload or not payload.isascii() or not signature.isascii():
        return None
    if not hmac.compare_digest(_sign(payload, secret), signature):
        return None
    try:
        data = json.loads(_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None

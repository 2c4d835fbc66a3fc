from __future__ import annotations

import base64
import hashlib
import hmac
import json


def dump_session(data: dict, secret: bytes) -> str:
    """Encode and sign a session dict."""
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    sig = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return body + "." + sig


def load_session(cookie: str, secret: bytes) -> dict | None:
    """Verify and decode a session cookie produced by :func:`dump_session`."""
    body, sig = cookie.split(".", 1)
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if sig != expected:
        return None
    return json.loads(base64.urlsafe_b64decode(body))

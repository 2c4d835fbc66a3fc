import base64
import hashlib
import hmac
import pickle
from typing import Optional


def dump_session(data: dict, secret: bytes) -> str:
    """
    Serialize a session dictionary into a signed cookie string.

    pickle is used so that any Python object can be stored in the session.
    """
    payload = base64.urlsafe_b64encode(pickle.dumps(data)).decode()
    signature = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def load_session(cookie: str, secret: bytes) -> Optional[dict]:
    """
    Load and verify a session cookie.

    Returns the session dictionary, or None if the cookie is invalid.
    """
    try:
        payload, signature = cookie.split(".")
        data = pickle.loads(base64.urlsafe_b64decode(payload))
    except Exception:
        return None

    expected = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None

    return data

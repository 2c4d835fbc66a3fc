"""Password hashing helpers based on PBKDF2-HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import os

ALGORITHM = "pbkdf2_sha256"
SALT_BYTES = 16


def _derive(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def hash_password(password: str, *, iterations: int = 600_000) -> str:
    """Hash ``password`` with a fresh random salt.

    Returns a string of the form ``pbkdf2_sha256$<iterations>$<salt>$<hash>``
    with salt and hash hex-encoded.
    """
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt = os.urandom(SALT_BYTES)
    digest = _derive(password, salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against a value produced by :func:`hash_password`.

    Never raises: malformed input simply fails verification.
    """
    try:
        algorithm, iterations_text, salt_hex, digest_hex = stored.split("$")
        iterations = int(iterations_text)
        salt = bytes.fromhex(salt_hex)
        expected = bytes.fromhex(digest_hex)
    except (ValueError, AttributeError):
        return False
    if algorithm != ALGORITHM or iterations < 1 or not salt:
        return False
    candidate = _derive(password, salt, iterations)
    return hmac.compare_digest(candidate, expected)

"""
Secure password hashing using PBKDF2-HMAC-SHA256.

Usage:
    stored = hash_password("my password")
    assert verify_password("my password", stored)
"""

import hashlib
import hmac
import secrets
from typing import Final

_ALGORITHM: Final = "pbkdf2_sha256"


def hash_password(password: str, *, iterations: int = 600_000) -> str:
    """Hash ``password`` using PBKDF2 with a random 16-byte salt."""
    salt = secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "$".join([_ALGORITHM, str(iterations), salt.hex(), dk.hex()])


def verify_password(password: str, stored: str) -> bool:
    """Return True if ``password`` matches ``stored``."""
    algorithm, iterations, salt_hex, hash_hex = stored.split("$")
    if algorithm != _ALGORITHM:
        return False
    dk = hashlib.pbkdf2_hmac(
        "sha256",
        password.encode("utf-8"),
        bytes.fromhex(salt_hex),
        int(iterations),
    )
    return hmac.compare_digest(dk.hex(), hash_hex)

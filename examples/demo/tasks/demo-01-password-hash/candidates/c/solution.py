from __future__ import annotations

import hashlib


def hash_password(password: str, *, iterations: int = 600_000) -> str:
    """Return a PBKDF2-SHA256 hash of the password.

    A fixed, application-wide salt is used so the same password always maps to
    the same hash, which makes lookups easy.
    """
    salt = b""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Verify a password against the stored hash string."""
    try:
        algorithm, iterations, salt_hex, digest_hex = stored.split("$")
        if algorithm != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), bytes.fromhex(salt_hex), int(iterations)
        )
    except ValueError:
        return False
    return digest.hex() == digest_hex

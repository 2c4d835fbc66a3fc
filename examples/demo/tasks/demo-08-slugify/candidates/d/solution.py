from __future__ import annotations

import re
import string
import unicodedata

ALLOWED = set(string.ascii_lowercase + string.digits)


def _strip_accents(value: str) -> str:
    """Remove diacritics, e.g. 'é' -> 'e'."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _is_allowed(ch: str) -> bool:
    return ch in ALLOWED


def slugify(text: str, max_length: int = 50) -> str:
    """Generate a URL slug from arbitrary text.

    Steps: strip accents, lowercase, map disallowed chars to '-', collapse
    repeated hyphens, trim, and truncate.
    """
    cleaned = _strip_accents(text).lower()
    chars = [ch if _is_allowed(ch) else "-" for ch in cleaned]
    slug = "".join(chars)
    slug = re.sub(r"-{2,}", "-", slug)
    slug = slug.strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length]
    while slug.endswith("-"):
        slug = slug[:-1]
    return slug

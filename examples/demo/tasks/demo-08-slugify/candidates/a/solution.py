"""URL slug generation."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = 50) -> str:
    """Turn ``text`` into a lowercase, hyphen-separated ASCII slug.

    Accents are removed via NFKD decomposition followed by an ASCII encode
    that drops anything (combining marks, emoji, CJK) without an ASCII form.
    """
    ascii_text = (
        unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    )
    slug = _NON_ALNUM.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")

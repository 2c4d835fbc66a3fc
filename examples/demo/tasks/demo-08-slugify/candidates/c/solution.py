from __future__ import annotations

import re
import unicodedata


def slugify(text: str, max_length: int = 50) -> str:
    """Create a slug from ``text``.

    >>> slugify("Hello, World!")
    'hello-world'
    """
    normalized = unicodedata.normalize("NFKD", text)
    ascii_only = normalized.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    # Truncate to the requested length.
    return slug[: max_length + 1] if len(slug) > max_length else slug

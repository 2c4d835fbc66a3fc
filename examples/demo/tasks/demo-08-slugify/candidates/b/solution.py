import re


def slugify(text: str, max_length: int = 50) -> str:
    """
    Convert a string into a URL-friendly slug.

    Args:
        text: The input string (e.g. a blog post title).
        max_length: Maximum length of the resulting slug.

    Returns:
        The slugified string.
    """
    text = text.lower()
    # Replace anything that isn't a letter or digit with a hyphen
    text = re.sub(r"[^a-z0-9]+", "-", text)
    text = text.strip("-")
    return text[:max_length].rstrip("-")

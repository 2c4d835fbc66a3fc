from pathlib import Path


def read_file(base_dir: str, relative_path: str) -> str:
    """
    Read a file located under ``base_dir``.

    Args:
        base_dir: Root directory that files are served from.
        relative_path: The requested path, relative to ``base_dir``.

    Returns:
        The file contents decoded as UTF-8.

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    # pathlib takes care of joining the paths correctly on every OS.
    path = Path(base_dir) / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"{relative_path} not found")
    return path.read_text(encoding="utf-8")

import os


def read_file(base_dir: str, relative_path: str) -> str:
    """
    Safely read a file relative to a base directory.

    Rejects any path containing '..' to prevent directory traversal attacks.

    Args:
        base_dir: The directory files are served from.
        relative_path: Path of the requested file, relative to base_dir.

    Returns:
        The contents of the file.

    Raises:
        ValueError: If the path tries to leave base_dir.
        FileNotFoundError: If the file does not exist.
    """
    parts = relative_path.replace("\\", "/").split("/")
    if ".." in parts:
        # Only allow "x/../y" when it stays inside the base directory.
        depth = 0
        for part in parts:
            if part == "..":
                depth -= 1
            elif part not in ("", "."):
                depth += 1
            if depth < 0:
                raise ValueError("path escapes base directory")

    full_path = os.path.join(base_dir, relative_path)
    if not os.path.isfile(full_path):
        raise FileNotFoundError(f"No such file: {relative_path}")

    with open(full_path, "r", encoding="utf-8") as f:
        return f.read()

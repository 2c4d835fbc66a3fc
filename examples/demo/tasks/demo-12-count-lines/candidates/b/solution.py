import os
import subprocess


def count_lines(path: str) -> int:
    """
    Count the number of lines in a file.

    Uses the standard `wc -l` utility, which is highly optimised for large
    files and matches the expected semantics exactly.

    Args:
        path: Path to the file.

    Returns:
        The number of lines in the file.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"File not found: {path}")

    output = subprocess.check_output(f"wc -l < {path}", shell=True)
    return int(output.decode().strip())

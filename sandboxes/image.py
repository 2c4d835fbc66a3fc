"""The sandbox root filesystem, built offline from the host's own apt sources.

One build serves both backends: `mmdebstrap` writes a tar, the tar is imported
into Docker (`docker import`, tagged by content version) and extracted as a
directory that bubblewrap binds read-only as `/`.

The content version is a hash of the package list, the suite and this
builder's version, so a rebuild with nothing changed is a no-op; the mirror
URLs are not part of it (the same packages from another mirror are the same
image).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

BUILDER_VERSION = "3"
SUITE = "bookworm"
PACKAGES: tuple[str, ...] = (
    "python3",
    "python3-pytest",
    "python3-hypothesis",
    "python3-numpy",
    "python3-yaml",
)
IMAGE_REPOSITORY = "review-harness/sandbox-python"
# Mount points the backends bind over; created in the image because bubblewrap
# cannot create them on a read-only root.
MOUNT_POINTS = ("in", "work", "results")
RESULTS_FILE = "results/report.json"

Progress = Callable[[str], None]


def content_version() -> str:
    blob = json.dumps(
        {"builder": BUILDER_VERSION, "suite": SUITE, "packages": sorted(PACKAGES),
         "mounts": MOUNT_POINTS, "results": RESULTS_FILE},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def default_image_tag() -> str:
    return f"{IMAGE_REPOSITORY}:{content_version()}"


@dataclass(frozen=True)
class ImagePaths:
    sandbox_dir: Path
    version: str

    @property
    def tar(self) -> Path:
        return self.sandbox_dir / f"rootfs-{self.version}.tar"

    @property
    def rootfs(self) -> Path:
        return self.sandbox_dir / f"rootfs-{self.version}"

    @property
    def stamp(self) -> Path:
        return self.sandbox_dir / f"rootfs-{self.version}.json"

    def rootfs_ready(self) -> bool:
        return self.stamp.is_file() and (self.rootfs / "usr/bin/python3").exists()


def paths_for(sandbox_dir: Path, version: str | None = None) -> ImagePaths:
    return ImagePaths(Path(sandbox_dir), version or content_version())


# -- the host's apt sources ---------------------------------------------------


def _one_line_entries(text: str) -> Iterable[str]:
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("deb "):
            yield line


def _deb822_entries(text: str) -> Iterable[str]:
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for raw in stanza.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key:
                fields[key] += "\n" + raw.strip()
                continue
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        signed_by = fields.get("signed-by", "")
        option = f"[signed-by={signed_by}] " if signed_by and "\n" not in signed_by else ""
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                yield f"deb {option}{uri} {suite} {fields.get('components', 'main')}"


def host_apt_sources(suite: str = SUITE, root: Path = Path("/etc/apt")) -> list[str]:
    """One-line `deb` entries for `suite` (and its -updates/-security) from the host."""
    entries: list[str] = []
    main = root / "sources.list"
    if main.is_file():
        entries += _one_line_entries(main.read_text(encoding="utf-8", errors="replace"))
    listdir = root / "sources.list.d"
    for path in sorted(listdir.glob("*")) if listdir.is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".list":
            entries += _one_line_entries(text)
        elif path.suffix == ".sources":
            entries += _deb822_entries(text)
    wanted = []
    for entry in entries:
        words = [w for w in entry.split() if not w.startswith("[") and not w.endswith("]")]
        if len(words) >= 3 and words[2].split("-")[0].split("/")[0] == suite:
            wanted.append(entry)
    return wanted


# -- building -----------------------------------------------------------------


class BuildError(Exception):
    pass


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def build_rootfs(sandbox_dir: Path, progress: Progress | None = None) -> ImagePaths:
    """Build (or reuse) the tar and the extracted rootfs for the current version."""
    paths = paths_for(sandbox_dir)
    if paths.rootfs_ready() and paths.tar.is_file():
        _say(progress, f"rootfs {paths.version} is up to date ({paths.rootfs})")
        return paths
    if shutil.which("mmdebstrap") is None:
        raise BuildError("mmdebstrap is not installed (apt-get install -y mmdebstrap)")
    sources = host_apt_sources()
    if not sources:
        raise BuildError(f"no apt source for {SUITE} found in /etc/apt/sources.list(.d)")
    paths.sandbox_dir.mkdir(parents=True, exist_ok=True)
    if not paths.tar.is_file():
        _say(progress, f"mmdebstrap {SUITE} ({', '.join(PACKAGES)}) from {len(sources)} "
                       "host apt source(s)")
        hook = " && ".join(
            [f'mkdir -p "$1/{m}" && chmod 0755 "$1/{m}"' for m in MOUNT_POINTS]
            + [f'touch "$1/{RESULTS_FILE}"',
               'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*']
        )
        partial = paths.tar.with_suffix(".tar.partial")
        cmd = ["mmdebstrap", "--variant=apt", "--mode=root", "--format=tar",
               "--include=" + ",".join(PACKAGES), f"--customize-hook={hook}",
               SUITE, str(partial), *sources]
        started = time.monotonic()
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, check=False)
        if proc.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BuildError(f"mmdebstrap failed with exit code {proc.returncode}")
        partial.rename(paths.tar)
        _say(progress, f"wrote {paths.tar} in {time.monotonic() - started:.0f} s")
    if not paths.rootfs_ready():
        _say(progress, f"extracting rootfs to {paths.rootfs}")
        tmp = Path(tempfile.mkdtemp(prefix=".rootfs-", dir=paths.sandbox_dir))
        try:
            subprocess.run(["tar", "-x", "--numeric-owner", "-p", "-f", str(paths.tar),
                            "-C", str(tmp)], check=True, stdin=subprocess.DEVNULL)
            os.chmod(tmp, 0o755)  # noqa: S103 - the sandbox user reads the rootfs
            if paths.rootfs.exists():
                shutil.rmtree(paths.rootfs)
            tmp.rename(paths.rootfs)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        paths.stamp.write_text(json.dumps({
            "version": paths.version, "suite": SUITE, "packages": list(PACKAGES),
            "builder": BUILDER_VERSION, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                  time.gmtime()),
        }, indent=2) + "\n", encoding="utf-8")
    return paths


def docker_image_present(client: object, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        return False
    return True


def import_into_docker(client: object, paths: ImagePaths, tag: str,
                       progress: Progress | None = None) -> None:
    """`docker import` the tar under `tag` unless an image with that tag exists."""
    if docker_image_present(client, tag):
        _say(progress, f"docker image {tag} is up to date")
        return
    repository, _, version = tag.rpartition(":")
    _say(progress, f"docker import {paths.tar.name} as {tag}")
    client.api.import_image_from_file(  # type: ignore[attr-defined]
        str(paths.tar), repository=repository, tag=version)
    if not docker_image_present(client, tag):
        raise BuildError(f"docker import did not produce {tag}")

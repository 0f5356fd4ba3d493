"""File checksums, shared by the index manifest and the model cache marker."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(directory: Path, skip: str) -> dict[str, str]:
    """SHA-256 of every file below ``directory`` (relative POSIX paths), except files named ``skip``."""
    directory = Path(directory)
    return {
        p.relative_to(directory).as_posix(): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != skip
    }

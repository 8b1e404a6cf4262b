"""Capture files on disk: content-addressed, written atomically, verified by SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from schoolwacht.errors import StorageError

_EXTENSIONS = {
    "application/json": ".json",
    "application/atom+xml": ".xml",
    "application/rss+xml": ".xml",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "text/html": ".html",
    "text/plain": ".txt",
    "image/png": ".png",
    "image/jpeg": ".jpg",
}


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: str  # relative to the storage dir, with forward slashes
    sha256: str
    size: int


def extension_for(media_type: str | None) -> str:
    if not media_type:
        return ".bin"
    return _EXTENSIONS.get(media_type.split(";")[0].strip().lower(), ".bin")


def store_blob(storage_dir: Path, data: bytes, *, media_type: str | None = None,
               folder: str = "captures") -> StoredFile:
    """Write `data` once under its SHA-256; the same bytes always land at the same path."""
    digest = hashlib.sha256(data).hexdigest()
    relative = f"{folder}/{digest[:2]}/{digest}{extension_for(media_type)}"
    target = storage_dir / relative
    try:
        # Reused: touch it, so retention (which spares recently modified files) cannot delete it
        # between now and the commit of the capture row that refers to it.
        os.utime(target)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return StoredFile(path=relative, sha256=digest, size=len(data))


def resolve(storage_dir: Path, relative: str) -> Path:
    """The absolute path of a stored file; refuses anything that leaves the storage dir."""
    root = storage_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise StorageError(f"path {relative!r} leaves the storage directory")
    return path


def read_verified(storage_dir: Path, relative: str, sha256: str) -> bytes:
    """The stored bytes, or `StorageError` when the file is missing or altered."""
    path = resolve(storage_dir, relative)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StorageError(f"capture file {relative} is missing") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StorageError(f"capture file {relative} does not match its SHA-256")
    return data

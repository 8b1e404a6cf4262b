"""`schoolwacht evidence verify FILE.zip`: is every file of a bundle there and unchanged?

The ZIP is read, never extracted: a hostile archive cannot write outside a folder (names with
`..`, absolute paths or backslashes are reported as unsafe) and cannot exhaust memory or disk
(each file is hashed as a stream, and reading stops at the size the manifest records or at
`MAX_FILE_BYTES`, whichever is smaller, so a zip bomb is read only as far as a real file would be).
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.bundle import MANIFEST, SUMS
from schoolwacht.errors import InputError

MAX_FILE_BYTES = 2 * 1024**3
MAX_INDEX_BYTES = 16 * 1024**2  # SHA256SUMS and manifest.json
MAX_ENTRIES = 100_000
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


@dataclass
class VerifyReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # Dutch: what else is wrong

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.unsafe or self.problems)

    def lines(self) -> list[str]:
        """One Dutch line per finding: `ontbreekt: PATH`, `extra: PATH`, `gewijzigd: PATH`, ..."""
        return ([f"ontbreekt: {p}" for p in self.missing] + [f"extra: {p}" for p in self.extra]
                + [f"gewijzigd: {p}" for p in self.changed] + [f"onveilige naam: {p}" for p in self.unsafe]
                + [f"probleem: {p}" for p in self.problems])


def safe_name(name: str) -> bool:
    """A member name that stays inside the folder it is extracted to."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return False
    return all(part not in ("..", ".", "") for part in name.split("/"))


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    if info.file_size > MAX_INDEX_BYTES:
        return None
    with archive.open(info) as stream:
        data = stream.read(MAX_INDEX_BYTES + 1)
    return data if len(data) <= MAX_INDEX_BYTES else None


def _parse_sums(data: bytes, report: VerifyReport) -> dict[str, str]:
    expected: dict[str, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        report.problems.append(f"{SUMS} is geen UTF-8-tekst")
        return expected
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _SUM_LINE.match(line)
        if match is None:
            report.problems.append(f"{SUMS} regel {number} is onleesbaar")
            continue
        expected[match.group(2)] = match.group(1).lower()
    return expected


def _parse_manifest(data: bytes, report: VerifyReport) -> dict[str, tuple[int, str]]:
    try:
        document: Any = json.loads(data.decode("utf-8"))
        files = document["files"]
        return {str(f["path"]): (int(f["size"]), str(f["sha256"]).lower()) for f in files}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        report.problems.append(f"{MANIFEST} is onleesbaar")
        return {}


def _digest(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[str, int] | None:
    """SHA-256 and size of a member, or None when it is longer than `limit` or unreadable."""
    digest, size = hashlib.sha256(), 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    return None
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError):
        return None  # bad CRC, truncated, encrypted or an unknown compression: not the file we wrote
    return digest.hexdigest(), size


def verify_bundle(path: Path) -> VerifyReport:
    """Check a bundle against its SHA256SUMS and manifest.json; `InputError` if it is no ZIP at all."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(f"{path} bestaat niet") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path} is geen leesbaar ZIP-bestand ({exc})") from None
    report = VerifyReport()
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise InputError(f"{path} bevat meer dan {MAX_ENTRIES} bestanden; dit is geen bewijsmap")
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.is_dir() and safe_name(info.filename.rstrip("/")):
                continue  # a folder entry (a re-packed folder) holds nothing to check
            if not safe_name(info.filename):
                report.unsafe.append(info.filename)
            elif info.filename in members:
                report.problems.append(f"{info.filename} staat twee keer in het ZIP-bestand")
            else:
                members[info.filename] = info
        sums = manifest = None
        if SUMS in members:
            data = _read_small(archive, members[SUMS])
            sums = _parse_sums(data, report) if data is not None else None
            if data is None:
                report.problems.append(f"{SUMS} is te groot")
        else:
            report.missing.append(SUMS)
        if MANIFEST in members:
            data = _read_small(archive, members[MANIFEST])
            manifest = _parse_manifest(data, report) if data is not None else None
            if data is None:
                report.problems.append(f"{MANIFEST} is te groot")
        _check(archive, members, sums or {}, manifest or {}, report)
    return report


def _check(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], sums: dict[str, str],
           manifest: dict[str, tuple[int, str]], report: VerifyReport) -> None:
    if not sums and not manifest:
        report.problems.append(f"geen {SUMS} of {MANIFEST} om tegen te controleren")
    expected = sorted(set(sums) | set(manifest))
    for name in expected:
        if not safe_name(name):
            report.unsafe.append(name)
            continue
        info = members.get(name)
        if info is None:
            report.missing.append(name)
            continue
        size, recorded = manifest.get(name, (None, None))
        hashes = {h for h in (sums.get(name), recorded) if h}
        if len(hashes) > 1:
            report.problems.append(f"{name}: {SUMS} en {MANIFEST} noemen een verschillende SHA-256")
        limit = min(MAX_FILE_BYTES, size if size is not None else MAX_FILE_BYTES)
        found = _digest(archive, info, limit)
        report.checked += 1
        if found is None or found[0] not in hashes or (size is not None and found[1] != size):
            report.changed.append(name)
    report.extra += sorted(n for n in members if n not in expected and n not in (SUMS, MANIFEST))


__all__ = ["VerifyReport", "safe_name", "verify_bundle"]

"""`evidence.verify`: a bundle passes only when every file is there and unchanged; otherwise each
missing, extra or changed file is named. Hostile archives (unsafe names, zip bombs, junk) are
reported, never extracted."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from evidence import export_case, verify_bundle
from evidence.bundle import MANIFEST, REPORT, SUMS, TIMELINE
from evidence.verify import safe_name
from schoolwacht.errors import InputError
from tests.helpers.evidence import install, rewrite_zip, zip_members
from tests.helpers.fixtures import Env


@pytest.fixture
def bundle(env: Env, tmp_path: Path) -> Path:
    inst = install(env, screenshots=False)
    seeded = inst.seed("Die juf van Verkruisen is een achterlijke heks", url="https://forum.example/t/1")
    inst.seed("Ik weet waar die juf van Verkruisen woont", categories=["doxing"])
    return export_case(inst.settings, case_id=seeded.case_id, out=tmp_path / "bewijsmap.zip").path  # type: ignore[arg-type]


def _capture(members: dict[str, bytes]) -> str:
    return next(n for n in members if n.startswith("captures/") and "/raw-" in n)


def _sha256sum(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sha256sum", "-c", SUMS], cwd=directory, capture_output=True, text=True)


def test_an_intact_bundle_passes(bundle: Path) -> None:
    report = verify_bundle(bundle)
    assert report.ok and report.lines() == []
    assert report.checked == len(zip_members(bundle)) - 1  # every file but SHA256SUMS itself


def test_one_flipped_byte_in_a_capture_is_named(bundle: Path, tmp_path: Path) -> None:
    members = zip_members(bundle)
    name = _capture(members)
    data = bytearray(members[name])
    data[len(data) // 2] ^= 0x01
    members[name] = bytes(data)
    tampered = tmp_path / "gewijzigd.zip"
    rewrite_zip(bundle, tampered, members)
    report = verify_bundle(tampered)
    assert not report.ok and report.changed == [name] and report.lines() == [f"gewijzigd: {name}"]

    # and the tool a police officer uses says the same about the extracted files
    folder = tmp_path / "uitgepakt"
    with zipfile.ZipFile(tampered) as archive:
        archive.extractall(folder)
    check = _sha256sum(folder)
    assert check.returncode != 0 and f"{name}: FAILED" in check.stdout


def test_a_removed_file_is_named(bundle: Path, tmp_path: Path) -> None:
    members = zip_members(bundle)
    for name in (_capture(members), REPORT):
        fewer = {k: v for k, v in members.items() if k != name}
        target = tmp_path / "minder.zip"
        rewrite_zip(bundle, target, fewer)
        report = verify_bundle(target)
        assert report.lines() == [f"ontbreekt: {name}"], name


def test_an_added_file_is_named(bundle: Path, tmp_path: Path) -> None:
    members = zip_members(bundle)
    members["captures/post-1/nep-screenshot.png"] = b"\x89PNG\r\n\x1a\n not really"
    target = tmp_path / "meer.zip"
    rewrite_zip(bundle, target, members)
    assert verify_bundle(target).lines() == ["extra: captures/post-1/nep-screenshot.png"]


def test_several_findings_at_once_and_a_consistent_forgery_of_one_index(bundle: Path, tmp_path: Path) -> None:
    members = zip_members(bundle)
    capture = _capture(members)
    members[capture] += b"\n"
    del members[TIMELINE]
    members["notities.txt"] = b"extra"
    target = tmp_path / "alles.zip"
    rewrite_zip(bundle, target, members)
    assert verify_bundle(target).lines() == [f"ontbreekt: {TIMELINE}", "extra: notities.txt",
                                             f"gewijzigd: {capture}"]

    # Someone who rewrites SHA256SUMS for a changed file still trips over manifest.json.
    members = zip_members(bundle)
    members[capture] += b"\n"
    sums = members[SUMS].decode().splitlines()
    sums = [f"{hashlib.sha256(members[capture]).hexdigest()}  {capture}" if line.endswith(capture) else line
            for line in sums]
    members[SUMS] = ("\n".join(sums) + "\n").encode()
    rewrite_zip(bundle, target, members)
    report = verify_bundle(target)
    assert capture in report.changed and any("verschillende SHA-256" in p for p in report.problems)


def test_without_index_files_nothing_passes(bundle: Path, tmp_path: Path) -> None:
    members = zip_members(bundle)
    target = tmp_path / "kaal.zip"
    rewrite_zip(bundle, target, {k: v for k, v in members.items() if k not in (SUMS, MANIFEST)})
    report = verify_bundle(target)
    assert not report.ok and f"ontbreekt: {SUMS}" in report.lines()
    assert report.extra == sorted(k for k in members if k not in (SUMS, MANIFEST))


def test_unsafe_names_and_junk_are_reported_not_extracted(bundle: Path, tmp_path: Path) -> None:
    members = zip_members(bundle)
    members["../../etc/cron.d/evil"] = b"* * * * * root rm -rf /"
    members["/absolute"] = b"x"
    target = tmp_path / "gevaarlijk.zip"
    rewrite_zip(bundle, target, members)
    report = verify_bundle(target)
    assert not report.ok and set(report.unsafe) == {"../../etc/cron.d/evil", "/absolute"}
    assert not (tmp_path.parent / "etc").exists()
    for name in ("a/../../b", "C:/x", "a\\b", "", "a//b", "x/"):
        assert not safe_name(name), name
    assert safe_name("captures/post-1/raw-0123.json")

    junk = tmp_path / "geen.zip"
    junk.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(InputError, match="geen leesbaar ZIP-bestand"):
        verify_bundle(junk)
    with pytest.raises(InputError, match="bestaat niet"):
        verify_bundle(tmp_path / "weg.zip")


def test_a_zip_bomb_is_read_only_as_far_as_the_manifest_allows(bundle: Path, tmp_path: Path) -> None:
    members = zip_members(bundle)
    capture = _capture(members)
    manifest = json.loads(members[MANIFEST])
    size = next(f["size"] for f in manifest["files"] if f["path"] == capture)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name == capture:
                # 256 MiB of zeros, a few hundred KiB compressed: read only up to `size` + 1 MiB chunk.
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as stream:
                    chunk = bytes(1 << 20)
                    for _ in range(256):
                        stream.write(chunk)
            else:
                archive.writestr(name, data)
    target = tmp_path / "bom.zip"
    target.write_bytes(buffer.getvalue())
    assert target.stat().st_size < 2 * 1024 * 1024 and size < 1 << 20
    report = verify_bundle(target)
    assert report.changed == [capture]

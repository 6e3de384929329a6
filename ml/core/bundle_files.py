"""A bundle's files and their manifest: the sha256 of every file, checked before
anything is read (:func:`verify_bundle`). :mod:`ml.core.bundles` writes and loads
bundles on top of this."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ml.core.errors import BundleIntegrityError

__all__ = [
    "MANIFEST",
    "relative_files",
    "sha256_file",
    "verified_contents",
    "verify_bundle",
]

MANIFEST = "MANIFEST.json"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def relative_files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() or p.is_symlink()
    )


def verify_bundle(path: Path, *, expected_sha256: str | None = None) -> str:
    """Check a bundle folder against its manifest and return its sha256.

    Raises:
        BundleIntegrityError: missing folder or manifest, a hash that does not
            match the folder name / ``expected_sha256``, a missing, extra or
            modified file.
    """
    return verified_contents(Path(path), expected_sha256)[0]


def verified_contents(
    path: Path, expected_sha256: str | None
) -> tuple[str, dict[str, bytes]]:
    """Verify the bundle; return its sha256 and the bytes of every listed file."""
    if not path.is_dir():
        raise BundleIntegrityError(f"bundle folder {path} does not exist")
    try:
        manifest_bytes = (path / MANIFEST).read_bytes()
    except OSError as exc:
        raise BundleIntegrityError(
            f"bundle {path.name}: cannot read {MANIFEST}"
        ) from exc
    sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise BundleIntegrityError(
            f"bundle {path.name}: manifest hash {sha256} does not match the "
            f"expected {expected_sha256}"
        )
    if _SHA256_RE.match(path.name):
        if path.name != sha256:
            raise BundleIntegrityError(
                f"bundle {path.name}: manifest hash {sha256} does not match the "
                "folder name"
            )
    elif expected_sha256 is None:
        raise BundleIntegrityError(
            f"bundle {path.name}: folder is not named by its hash and no expected "
            "hash was given"
        )
    try:
        manifest = json.loads(manifest_bytes)
        expected_files: dict[str, str] = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleIntegrityError(f"bundle {path.name}: malformed manifest") from exc
    present = set(relative_files(path)) - {MANIFEST}
    missing = sorted(set(expected_files) - present)
    extra = sorted(present - set(expected_files))
    if missing:
        raise BundleIntegrityError(f"bundle {path.name}: missing file(s) {missing}")
    if extra:
        raise BundleIntegrityError(f"bundle {path.name}: unexpected file(s) {extra}")
    contents: dict[str, bytes] = {}
    for name, file_sha in sorted(expected_files.items()):
        try:
            data = (path / name).read_bytes()
        except OSError as exc:
            raise BundleIntegrityError(
                f"bundle {path.name}: cannot read {name}"
            ) from exc
        if hashlib.sha256(data).hexdigest() != file_sha:
            raise BundleIntegrityError(
                f"bundle {path.name}: file {name} was modified (sha256 mismatch)"
            )
        contents[name] = data
    return sha256, contents

"""The functions' runtime dependencies, bundled at their pins into a Lambda layer: what runs on AWS is what the tests ran.

pip resolves requirements.txt under constraints.txt for Lambda's platform (arm64, CPython 3.12) from wheels only,
so no docker and no compiler is involved. The zip is cached under .build/layer/, keyed by a hash of both files,
and written deterministically (sorted entries, fixed timestamps), so a repeated synth neither rebuilds it nor
changes the asset hash. `python -m scripts.bundle` builds it if needed and prints the bundled versions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
CONSTRAINTS = ROOT / "constraints.txt"
CACHE = ROOT / ".build" / "layer"
PLATFORM = "manylinux2014_aarch64"
PYTHON = "3.12"
_FORMAT = "1"  # bump when the layout below changes


def key() -> str:
    digest = hashlib.sha256(f"{_FORMAT}|{PLATFORM}|{PYTHON}|".encode())
    for path in (REQUIREMENTS, CONSTRAINTS):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def layer_zip() -> Path:
    """The layer's zip (python/...), built on first use."""
    target = CACHE / f"layer-{key()}.zip"
    if not target.exists():
        _build(target)
    return target


def _build(target: Path) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        site = Path(tmp) / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",  # bytecode of this interpreter's version would be useless on 3.12
                "--platform",
                PLATFORM,
                "--implementation",
                "cp",
                "--python-version",
                PYTHON,
                "--only-binary=:all:",
                "--target",
                str(site),
                "-r",
                str(REQUIREMENTS),
                "-c",
                str(CONSTRAINTS),
            ],
            check=True,
        )
        shutil.rmtree(site / "bin", ignore_errors=True)
        partial = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted(p for p in Path(tmp).rglob("*") if p.is_file() and p != partial):
                rel = path.relative_to(tmp).as_posix()
                if "__pycache__" in rel:
                    continue
                info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
        os.replace(partial, target)
    for stale in CACHE.glob("layer-*.zip"):
        if stale != target:
            stale.unlink(missing_ok=True)


def versions(archive: Path | None = None) -> dict[str, str]:
    """{distribution name (normalized): version} of every package in the layer, from its dist-info."""
    out: dict[str, str] = {}
    with zipfile.ZipFile(archive or layer_zip()) as zf:
        for name in zf.namelist():
            if name.count("/") == 2 and name.endswith(".dist-info/METADATA"):
                meta = HeaderParser().parsestr(zf.read(name).decode("utf-8", "replace"))
                out[normalize(meta["Name"])] = meta["Version"]
    return out


def normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pins(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            out[normalize(name.split("[", 1)[0])] = version.strip()
    return out


def unpinned(found: dict[str, str]) -> list[str]:
    """Bundled packages whose version is not the one requirements.txt or constraints.txt pins."""
    expected = {**pins(CONSTRAINTS), **pins(REQUIREMENTS)}
    missing = [f"{n} missing" for n in pins(REQUIREMENTS) if n not in found]
    return missing + [f"{n} {v} (pinned: {expected.get(n)})" for n, v in sorted(found.items()) if expected.get(n) != v]


def summary(found: dict[str, str]) -> str:
    direct = ", ".join(f"{n} {found.get(n)}" for n in pins(REQUIREMENTS))
    rest = ", ".join(f"{n} {v}" for n, v in sorted(found.items()) if n not in pins(REQUIREMENTS))
    return f"Lambda layer ({PLATFORM}, Python {PYTHON}): {direct}; with {rest}"


if __name__ == "__main__":
    found = versions()
    print(summary(found))
    if unpinned(found):
        sys.exit(f"bundled versions differ from the pins: {unpinned(found)}")

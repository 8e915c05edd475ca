"""The functions' runtime dependencies, bundled at their pins into a Lambda layer: what runs on AWS is what the tests ran.

pip resolves requirements.txt under constraints.txt for Lambda's platform (arm64, CPython 3.12) from wheels only,
so no docker and no C compiler is involved. The zip is cached under .build/layer/, keyed by a hash of both files,
and written deterministically (sorted entries, fixed timestamps), so a repeated synth neither rebuilds it nor
changes the asset hash. `python -m scripts.bundle` builds it if needed and prints the bundled versions.

Both the layer and the function code ship CPython 3.12 bytecode (`__pycache__/*.cpython-312.pyc`), so a cold start
does not compile the sources (Lambda's /opt and /var/task are read-only: nothing it compiles is kept). It is
compiled with `--invalidation-mode unchecked-hash`: the .pyc does not depend on file times and Python never
re-checks it against the source. This machine's Python is 3.11, so the compiler is Pyodide's CPython 3.12 (npm package
`pyodide`, pinned in package.json) run by Node, or $PYTHON312 when set: bytecode depends on the interpreter's
version only, not its platform (a test compares Pyodide's bytes with a native 3.12's). The function code is staged, compiled, in
.build/functions/functions-<hash of the sources>/, which the stack ships instead of functions/.
"""

from __future__ import annotations

import hashlib
import json
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
FUNCTIONS = ROOT / "functions"
FUNCTIONS_CACHE = ROOT / ".build" / "functions"
PLATFORM = "manylinux2014_aarch64"
PYTHON = "3.12"
MAGIC = (3531).to_bytes(2, "little") + b"\r\n"  # importlib.util.MAGIC_NUMBER of every CPython 3.12.x
UNCHECKED_HASH = 0b01  # pyc flags (PEP 552): hash-based, source never checked
LAYER_DIR = "/opt/python"  # where Lambda mounts the layer's python/; the names in tracebacks
TASK_DIR = "/var/task"  # where Lambda unpacks the function code
PYODIDE = ROOT / "node_modules" / "pyodide"
_FORMAT = "2"  # bump when the layout below changes
_IGNORED = ("__pycache__", ".mypy_cache", ".pytest_cache")
_NATIVE = """\
import compileall, py_compile, sys
assert sys.version_info[:2] == (3, 12), sys.version
ok = compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], quiet=1, workers=1,
                            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
sys.exit(0 if ok else 1)
"""


class BuildError(RuntimeError):
    """The bundle cannot be built here (no CPython 3.12 compiler): the message says what to install."""


def compiler() -> tuple[str, list[str]]:
    """(identity, command prefix) of the CPython 3.12 byte-compiler: `<prefix> DIR DDIR` compiles DIR in place.

    $PYTHON312 if set, else the pinned Pyodide (the same bytes on every machine), else a python3.12 on PATH."""
    explicit = os.environ.get("PYTHON312")
    if explicit:
        return f"cpython-{_version(explicit)}", [explicit, "-c", _NATIVE]
    package = PYODIDE / "package.json"
    if package.exists():
        node = ROOT / "node_modules" / ".bin" / "node"
        version = json.loads(package.read_text())["version"]
        return f"pyodide-{version}", [str(node) if node.exists() else "node", str(ROOT / "scripts" / "pyc312.mjs")]
    native = shutil.which("python3.12")
    if native and _version(native).startswith("3.12."):
        return f"cpython-{_version(native)}", [native, "-c", _NATIVE]
    raise BuildError(
        "no CPython 3.12 to byte-compile the Lambda code: run `npm ci` (installs the pinned pyodide) "
        "or set PYTHON312 to a python3.12"
    )


def _version(python: str) -> str:
    done = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unusable"


def compile_tree(directory: Path, ddir: str) -> None:
    """Write 3.12 bytecode beside every .py under directory, naming the files as ddir/... in code objects."""
    _, command = compiler()
    done = subprocess.run([*command, str(directory), ddir], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise BuildError(f"byte-compiling {directory} failed: {(done.stdout + done.stderr)[-2000:]}")


def key() -> str:
    digest = hashlib.sha256(f"{_FORMAT}|{PLATFORM}|{PYTHON}|{compiler()[0]}|".encode())
    for path in (REQUIREMENTS, CONSTRAINTS):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(part in _IGNORED for part in p.parts))


def functions_key() -> str:
    digest = hashlib.sha256(f"{_FORMAT}|{compiler()[0]}|".encode())
    for path in _sources(FUNCTIONS):
        rel = path.relative_to(FUNCTIONS).as_posix()
        digest.update(f"{rel}|{len(rel)}|{path.stat().st_size}|".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def functions_dir() -> Path:
    """The function code asset: functions/ with CPython 3.12 bytecode, staged once per version of the sources."""
    target = FUNCTIONS_CACHE / f"functions-{functions_key()}"
    if not target.exists():
        FUNCTIONS_CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=FUNCTIONS_CACHE) as tmp:
            staged = Path(tmp) / "code"
            for path in _sources(FUNCTIONS):
                dest = staged / path.relative_to(FUNCTIONS)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
            compile_tree(staged, TASK_DIR)
            try:
                os.replace(staged, target)
            except OSError:  # another process staged the same sources first
                if not target.exists():
                    raise
        for stale in FUNCTIONS_CACHE.glob("functions-*"):
            if stale != target:
                shutil.rmtree(stale, ignore_errors=True)
    return target


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
                "--no-compile",  # not this interpreter's (3.11) bytecode: 3.12's is compiled below
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
        for stale in site.rglob("__pycache__"):
            shutil.rmtree(stale)
        compile_tree(site, LAYER_DIR)
        partial = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted(p for p in Path(tmp).rglob("*") if p.is_file() and p != partial):
                rel = path.relative_to(tmp).as_posix()
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
    return f"Lambda layer ({PLATFORM}, Python {PYTHON}, bytecode by {compiler()[0]}): {direct}; with {rest}"


if __name__ == "__main__":
    try:
        found = versions()
        code = functions_dir()
    except BuildError as exc:
        sys.exit(str(exc))
    print(summary(found))
    print(f"Function code with bytecode: {code.relative_to(ROOT)}")
    if unpinned(found):
        sys.exit(f"bundled versions differ from the pins: {unpinned(found)}")

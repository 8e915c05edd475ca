"""The layer that ships is the one the tests ran: every bundled package at its pin, built for Lambda's platform,
with CPython 3.12 bytecode for every module, in the layer and in the function code."""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from scripts import bundle

pytestmark = pytest.mark.xdist_group("cdk")


def test_bundled_versions_equal_the_pins() -> None:
    found = bundle.versions()
    runtime = bundle.pins(bundle.REQUIREMENTS)
    assert {name: found.get(name) for name in runtime} == runtime
    assert {k: runtime[k] for k in ("aws-lambda-powertools", "pydantic", "boto3")} == {
        "aws-lambda-powertools": "3.37.0",  # what the test venv runs (constraints.txt)
        "pydantic": "2.14.3",
        "boto3": "1.44.5",
    }
    assert bundle.unpinned(found) == []  # transitive packages too, at constraints.txt
    assert {"botocore", "pydantic-core", "typing-extensions"} <= set(found)


def _bytecode_of(source: str) -> str:
    """Where CPython 3.12 looks for a module's bytecode: __pycache__/<name>.cpython-312.pyc beside it."""
    head, name = posixpath.split(source)
    return posixpath.join(head, "__pycache__", name[:-3] + ".cpython-312.pyc")


def _check_pyc(data: bytes) -> None:
    assert data[:4] == bundle.MAGIC == b"\xcb\r\r\n"  # 3531: CPython 3.12 (3.11 is 3495, 3.13 is 3571)
    assert int.from_bytes(data[4:8], "little") == bundle.UNCHECKED_HASH  # no file times, never re-checked
    assert data[16:17] in (b"\xe3", b"c")  # a marshalled code object follows


def test_layer_is_built_for_arm64_cpython_312_with_its_bytecode() -> None:
    names = zipfile.ZipFile(bundle.layer_zip()).namelist()
    assert all(n.startswith("python/") for n in names)
    archive = zipfile.ZipFile(bundle.layer_zip())
    native = [n for n in names if n.endswith(".so")]
    assert native and all(n.endswith(("cpython-312-aarch64-linux-gnu.so", "abi3.so")) for n in native)
    elf_machines = {int.from_bytes(archive.read(n)[18:20], "little") for n in native}
    assert elf_machines == {183}  # EM_AARCH64
    sources = [n for n in names if n.endswith(".py")]
    compiled = {n for n in names if n.endswith(".pyc")}
    assert len(sources) > 500
    assert {_bytecode_of(n) for n in sources} == compiled  # every module, nothing else (no 3.11 bytecode)
    for name in ("python/boto3/__init__.py", "python/aws_lambda_powertools/logging/logger.py", "python/six.py"):
        _check_pyc(archive.read(_bytecode_of(name)))
    assert b"/opt/python/boto3/__init__.py" in archive.read(_bytecode_of("python/boto3/__init__.py"))


def test_function_code_ships_its_sources_with_their_bytecode() -> None:
    staged = bundle.functions_dir()
    assert staged.parent == bundle.FUNCTIONS_CACHE
    sources = {p.relative_to(bundle.FUNCTIONS).as_posix() for p in bundle._sources(bundle.FUNCTIONS)}
    shipped = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    modules = {s for s in sources if s.endswith(".py")}
    assert {"ingest/handler.py", "hitstream/audience/bots.py", "hitstream/audience/crawler-user-agents.json"} <= sources
    assert shipped == sources | {_bytecode_of(m) for m in modules}
    for module in modules:
        assert (staged / module).read_bytes() == (bundle.FUNCTIONS / module).read_bytes()
        _check_pyc((staged / _bytecode_of(module)).read_bytes())
    assert b"/var/task/ingest/handler.py" in (staged / _bytecode_of("ingest/handler.py")).read_bytes()
    assert bundle.functions_dir() == staged  # cached by the sources' content


def test_bytecode_depends_on_the_sources_only_not_on_file_times_or_paths(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "elsewhere" / "two"
    for root, mtime in ((one, 1_000_000_000), (two, 2_000_000_000)):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "__init__.py").write_text("")
        (root / "pkg" / "mod.py").write_text("X = {'a': [i * 2 for i in range(3)]}\ndef f(y):\n    return X, y\n")
        for path in (root / "pkg").iterdir():
            os.utime(path, (mtime, mtime))
        bundle.compile_tree(root, "/var/task")
    for name in ("__init__", "mod"):
        pyc = f"pkg/__pycache__/{name}.cpython-312.pyc"
        assert (one / pyc).read_bytes() == (two / pyc).read_bytes()
        _check_pyc((one / pyc).read_bytes())


def test_a_source_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n")
    with pytest.raises(bundle.BuildError, match="byte-compiling"):
        bundle.compile_tree(tmp_path, "/var/task")


def test_a_build_without_any_python_312_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PYTHON312", raising=False)
    monkeypatch.setattr(bundle, "PYODIDE", tmp_path / "absent")
    monkeypatch.setattr(bundle.shutil, "which", lambda name: None)
    with pytest.raises(bundle.BuildError, match="npm ci"):
        bundle.compiler()


def _native_312() -> str | None:
    candidates = [os.environ.get("PYTHON312"), shutil.which("python3.12")]
    candidates += [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    for python in filter(None, candidates):
        if bundle._version(python).startswith("3.12."):  # a pyenv shim without 3.12 selected is not one
            return python
    return None


NATIVE_312 = _native_312()
# Instructions, constants, names and exception tables must be equal; the line table may differ, since 3.12
# patch releases fixed the source positions of some expressions (3.12.1 vs Pyodide's 3.12.7: generator expressions).
CROSS_CHECK = """
import marshal, pathlib, sys, types
def bare(code):
    consts = tuple(bare(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_linetable=b"", co_consts=consts)
root = pathlib.Path(sys.argv[1])
checked = 0
for source in root.rglob("*.py"):
    pyc = source.parent / "__pycache__" / (source.stem + ".cpython-312.pyc")
    shipped = marshal.loads(pyc.read_bytes()[16:])
    fresh = compile(source.read_bytes(), "/var/task/" + source.relative_to(root).as_posix(), "exec", dont_inherit=True)
    assert bare(shipped) == bare(fresh) and shipped.co_filename == fresh.co_filename, source
    checked += 1
print(checked)
"""


@pytest.mark.skipif(NATIVE_312 is None, reason="no native CPython 3.12 on this machine to cross-check with")
def test_a_native_cpython_312_loads_the_shipped_bytecode_as_its_own_compile() -> None:
    assert NATIVE_312 is not None
    done = subprocess.run(
        [NATIVE_312, "-I", "-c", CROSS_CHECK, str(bundle.functions_dir())], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) == len([p for p in bundle._sources(bundle.FUNCTIONS) if p.suffix == ".py"])


def test_layer_zip_is_cached_by_the_pins() -> None:
    first = bundle.layer_zip()
    assert first.name == f"layer-{bundle.key()}.zip"
    assert bundle.layer_zip() == first

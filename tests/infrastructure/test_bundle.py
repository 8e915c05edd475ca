"""The layer that ships is the one the tests ran: every bundled package at its pin, built for Lambda's platform."""

from __future__ import annotations

import zipfile

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


def test_layer_is_built_for_arm64_cpython_312_without_foreign_bytecode() -> None:
    names = zipfile.ZipFile(bundle.layer_zip()).namelist()
    assert all(n.startswith("python/") for n in names)
    archive = zipfile.ZipFile(bundle.layer_zip())
    native = [n for n in names if n.endswith(".so")]
    assert native and all(n.endswith(("cpython-312-aarch64-linux-gnu.so", "abi3.so")) for n in native)
    elf_machines = {int.from_bytes(archive.read(n)[18:20], "little") for n in native}
    assert elf_machines == {183}  # EM_AARCH64
    assert [n for n in names if n.endswith(".pyc")] == []


def test_layer_zip_is_cached_by_the_pins() -> None:
    first = bundle.layer_zip()
    assert first.name == f"layer-{bundle.key()}.zip"
    assert bundle.layer_zip() == first

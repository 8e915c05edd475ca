"""The docs stand alone: every relative link resolves, nothing points outside the repo, and every `make` target the
docs name is one `make help` lists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.M):
        text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out


def relative_links(doc: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # code blocks hold examples, not links
    found = [a or b for a, b in LINK.findall(text)]
    return [link for link in found if not re.match(r"[a-z][a-z0-9+.-]*:", link)]  # http:, mailto:, data: ...


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    for link in relative_links(doc):
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        assert target.exists(), f"{doc.name}: {link} does not exist"
        assert ROOT in target.parents or target == ROOT, f"{doc.name}: {link} points outside the repository"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target.read_text()), f"{doc.name}: {link}: no such heading"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_do_not_lean_on_files_outside_the_repo(doc: Path) -> None:
    text = doc.read_text()
    assert "DESIGN.md" not in text and "../shared" not in text


def test_the_api_contract_is_in_the_repo() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    for route in ("POST /statistics/{slug}/hits", "GET /statistics/{slug}", "GET /sites", "GET /beacon.js"):
        assert route in api
    assert "docs/api.md" in (ROOT / "README.md").read_text()


def test_make_help_lists_every_target_and_the_docs_name_only_real_ones() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, flags=re.M))
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^make (\S+)", shown, flags=re.M))
    assert targets <= listed, f"make help leaves out {sorted(targets - listed)}"
    assert {"run", "test", "test-fast", "lint", "synth", "deploy", "bench", "recompute", "vendor", "clean"} <= listed
    for doc in DOCS:
        named = set(re.findall(r"`make ([a-z][a-z-]*)", doc.read_text()))
        assert named <= listed, f"{doc.name} names make targets that do not exist: {sorted(named - listed)}"

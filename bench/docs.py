"""docs/benchmarks.md and docs/benchmarks.png from one run's numbers."""

from __future__ import annotations

from typing import Any


def write(metrics: dict[str, Any], details: dict[str, Any], text: str) -> None:
    from bench import report

    report.DOCS.mkdir(exist_ok=True)
    report.plot(metrics, report.DOCS / "benchmarks.png")
    (report.DOCS / "benchmarks.md").write_text("(pending)\n" + text)

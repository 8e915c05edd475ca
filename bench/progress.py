"""A plain one-line progress display on stderr, refreshed by a background thread."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

Source = Callable[[], tuple[int, int]]  # (done, total)


class Progress:
    def __init__(self, enabled: bool = True, interval: float = 0.5) -> None:
        self.enabled = enabled
        self.interval = interval
        self.stage = "starting"
        self.sources: dict[str, Source] = {}
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = 0.0

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="bench-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._draw(final=True)

    def set(self, stage: str) -> None:
        self.stage = stage

    def _bar(self, done: int, total: int, width: int = 20) -> str:
        frac = min(1.0, done / total) if total else 0.0
        filled = int(frac * width)
        return f"[{'#' * filled}{'.' * (width - filled)}] {frac:4.0%}"

    def _draw(self, final: bool = False) -> None:
        parts = []
        for name, source in list(self.sources.items()):
            try:
                done, total = source()
            except Exception:  # noqa: BLE001 - a display must never break the run
                continue
            parts.append(f"{name} {self._bar(done, total)}")
        elapsed = time.monotonic() - self.started
        line = f"\r{elapsed:6.0f}s  {self.stage:<24} " + "  ".join(parts)
        if not sys.stderr.isatty():  # a log, not a terminal: one plain line now and then
            if final or time.monotonic() - self._last >= 15:
                self._last = time.monotonic()
                sys.stderr.write(line[1:].rstrip() + "\n")
                sys.stderr.flush()
            return
        sys.stderr.write(line[:200].ljust(120) + ("\n" if final else ""))
        sys.stderr.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

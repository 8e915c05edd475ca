"""The twin's dashboard mode and owner token: HITSTREAM_DASHBOARD and HITSTREAM_TOKEN."""

from __future__ import annotations

import os
from pathlib import Path

MODES = ("private", "public")


def dashboard_mode() -> str:
    """HITSTREAM_DASHBOARD (default private), passed to the handlers as DASHBOARD."""
    mode = os.environ.get("HITSTREAM_DASHBOARD", "").strip().lower() or "private"
    if mode not in MODES:
        raise SystemExit(f"HITSTREAM_DASHBOARD must be private or public, got {mode!r}")
    return mode


TOKEN_FILE = "owner-token"


def install_token(stats_table: str, directory: Path | None = None) -> str:
    """HITSTREAM_TOKEN, else the token kept beside the twin's data (so a restart keeps the dashboard signed in),
    else a new random one; its hash replaces the stored one, so the printed token works."""
    from hitstream.api import auth

    token = os.environ.get("HITSTREAM_TOKEN", "").strip() or _kept_token(directory) or auth.new_token()
    if not auth.is_token(token):
        raise SystemExit("HITSTREAM_TOKEN may hold only letters, digits and - . _ ~ + / (then = padding)")
    auth.store_owner_token(stats_table, token)
    if directory is not None and not os.environ.get("HITSTREAM_TOKEN", "").strip():
        path = directory / TOKEN_FILE
        path.write_text(token + "\n")
        path.chmod(0o600)  # a local secret, like the data beside it; never in the repository (.hitstream/ is ignored)
    return token


def _kept_token(directory: Path | None) -> str:
    from hitstream.api import auth

    if directory is None:
        return ""
    try:
        token = (directory / TOKEN_FILE).read_text().strip()
    except OSError:
        return ""
    return token if auth.is_token(token) else ""


def dashboard_address(host: str, port: int, token: str, mode: str) -> str:
    """http://HOST:PORT/#token=<token>; the dashboard moves the token to localStorage and clears the fragment."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/"
    return base if mode == "public" else f"{base}#token={token}"

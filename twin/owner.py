"""The twin's dashboard mode and owner token: HITSTREAM_DASHBOARD and HITSTREAM_TOKEN."""

from __future__ import annotations

import os

MODES = ("private", "public")


def dashboard_mode() -> str:
    """HITSTREAM_DASHBOARD (default private), passed to the handlers as DASHBOARD."""
    mode = os.environ.get("HITSTREAM_DASHBOARD", "").strip().lower() or "private"
    if mode not in MODES:
        raise SystemExit(f"HITSTREAM_DASHBOARD must be private or public, got {mode!r}")
    return mode


def install_token(stats_table: str) -> str:
    """HITSTREAM_TOKEN, or a new random token; its hash replaces the stored one, so the printed token works."""
    from hitstream import auth

    token = os.environ.get("HITSTREAM_TOKEN", "").strip() or auth.new_token()
    if not auth.is_token(token):
        raise SystemExit("HITSTREAM_TOKEN may hold only letters, digits and - . _ ~ + / (then = padding)")
    auth.store_owner_token(stats_table, token)
    return token


def dashboard_address(host: str, port: int, token: str, mode: str) -> str:
    """http://HOST:PORT/#token=<token>; the dashboard moves the token to localStorage and clears the fragment."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/"
    return base if mode == "public" else f"{base}#token={token}"

"""Maintenance commands, run with `python -m scripts.<name>` (see the Makefile)."""

"""Troupe's version, written once: `--version`, the binary and pyproject.toml (dynamic) all read it."""

from __future__ import annotations

VERSION = "0.1.0"

"""Generated secrets: JWT_SECRET and MASTER_KEY, created once in DATA_DIR with mode 0600."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _load_or_create(path: Path, make: str) -> str:
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(make + "\n")
    os.chmod(path, 0o600)
    return make


def resolve_secrets(data_dir: Path, jwt_secret: str, master_key: str) -> tuple[str, str]:
    """The configured secrets, or ones generated and kept in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not jwt_secret:
        jwt_secret = _load_or_create(data_dir / "jwt_secret", secrets.token_urlsafe(48))
    if not master_key:
        master_key = _load_or_create(data_dir / "master_key", secrets.token_hex(32))
    return jwt_secret, master_key

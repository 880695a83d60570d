"""Generated secrets: JWT_SECRET and MASTER_KEY, created once in DATA_DIR with mode 0600.

Key rotation (app/security/rotation.py) writes the next MASTER_KEY beside the current one as
`master_key.next` and later renames it over `master_key`: both writes are atomic and durable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from app.durable import fsync_dir

MASTER_KEY_FILE = "master_key"
NEXT_MASTER_KEY_FILE = "master_key.next"


def new_master_key() -> str:
    """A fresh AES-256 key as 64 hex digits."""
    return secrets.token_hex(32)


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


def read_key(path: Path) -> str | None:
    """The key kept in `path`, or None when there is none."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    return value or None


def write_key_atomically(path: Path, value: str) -> None:
    """Write `value` to `path` (mode 0600) so that a crash leaves the old file or the new, never half."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)
    fsync_dir(path.parent)


def replace_key(source: Path, target: Path) -> None:
    """Rename `source` over `target` atomically and durably (the swap that ends a rotation)."""
    os.replace(source, target)
    fsync_dir(target.parent)



def resolve_secrets(data_dir: Path, jwt_secret: str, master_key: str) -> tuple[str, str]:
    """The configured secrets, or ones generated and kept in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not jwt_secret:
        jwt_secret = _load_or_create(data_dir / "jwt_secret", secrets.token_urlsafe(48))
    if not master_key:
        master_key = _load_or_create(data_dir / MASTER_KEY_FILE, new_master_key())
    return jwt_secret, master_key

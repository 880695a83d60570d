"""bcrypt password hashing. bcrypt reads at most 72 bytes, so longer passwords are refused, not cut."""

from __future__ import annotations

import unicodedata
from functools import cache

import bcrypt

MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 10


class PasswordPolicyError(ValueError):
    pass


def normalize(password: str) -> bytes:
    return unicodedata.normalize("NFC", password).encode("utf-8")


def check_policy(password: str) -> bytes:
    raw = normalize(password)
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise PasswordPolicyError(f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    return raw


def hash_password(password: str, rounds: int) -> str:
    """Blocking (about 0.25 s at 12 rounds): call it from a worker thread."""
    return bcrypt.hashpw(check_policy(password), bcrypt.gensalt(rounds)).decode()


@cache
def _dummy_hash(rounds: int) -> bytes:
    """A hash nobody's password matches, at the configured cost: an unknown e-mail pays for exactly
    the check a registered one does, so the answer's timing does not tell which e-mails exist."""
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds))


def verify_password(password: str, hashed: str | None, rounds: int) -> bool:
    """Blocking: one bcrypt check, against the user's hash or (no such user) a dummy of cost `rounds`."""
    raw = normalize(password)
    if len(raw) > MAX_PASSWORD_BYTES:
        raw = b"\x00"  # cannot match; still pay for one check
    try:
        return bcrypt.checkpw(raw, hashed.encode() if hashed else _dummy_hash(rounds)) and hashed is not None
    except ValueError:
        return False

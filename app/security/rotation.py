"""`troupe keys rotate-master`: re-seal every stored secret under a new MASTER_KEY, crash-safe.

Three steps, each leaving a state the next run (or the next start) completes:
1. the new key is written beside the old one as `master_key.next` (reused if already there);
2. one write transaction re-seals every exchange key pair and API-key secret from the old key to the
   new and records the new key's fingerprint in `master_key_seal`;
3. `master_key.next` is renamed over `master_key`.
A crash before 2 commits leaves the rows sealed by the old key, which `master_key` still holds; a crash
between 2 and 3 leaves the rows sealed by the key in `master_key.next`, and the recorded fingerprint
says so: `settle` (at start-up, and at the start of a rotation) finishes the swap.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.faults import crash_point
from app.persistence.api_keys import reseal_api_key_secrets
from app.persistence.db import write_transaction
from app.persistence.exchange import reseal_exchange_keys
from app.persistence.sealing import record_sealed_by, sealed_by
from app.security.keystore import (
    MASTER_KEY_FILE,
    NEXT_MASTER_KEY_FILE,
    new_master_key,
    read_key,
    replace_key,
    write_key_atomically,
)
from app.security.vault import Vault, VaultError


class RotationError(Exception):
    """The keys cannot be rotated (or the server cannot start) as things are; the message says why."""


@dataclass(frozen=True, slots=True)
class Rotated:
    exchange_keys: int  # pairs re-sealed
    api_keys: int  # API-key secrets re-sealed
    fingerprint: str  # of the new MASTER_KEY
    resumed: str  # "" for a fresh rotation, else what an interrupted one had left


def fingerprint(master_key_hex: str) -> str:
    """A name for a key that reveals nothing of it (an HMAC under the key itself)."""
    return hmac.new(bytes.fromhex(master_key_hex), b"troupe master key fingerprint", hashlib.sha256).hexdigest()[:32]


def settle(data_dir: Path) -> str:
    """Finish a rotation that committed but did not swap its key files; say what was done ("" if nothing).

    Call with the database bound and connected. Raises RotationError when `master_key` is not the key
    the stored secrets were sealed by (and no pending rotation explains it).
    """
    current_path, next_path = data_dir / MASTER_KEY_FILE, data_dir / NEXT_MASTER_KEY_FILE
    recorded = sealed_by()
    nxt = read_key(next_path)
    if recorded is not None and nxt is not None and recorded == fingerprint(nxt):
        try:
            replace_key(next_path, current_path)
        except FileNotFoundError:  # another process sharing DATA_DIR swapped it first
            pass
        return "finished an interrupted rotation: master_key.next became master_key"
    current = read_key(current_path)
    if recorded is not None and current is not None and recorded != fingerprint(current):
        raise RotationError(f"{current_path} is not the MASTER_KEY that sealed the stored secrets "
                            f"(fingerprint {recorded}): restore that key file")
    return ""


def rotate(data_dir: Path) -> Rotated:
    """Rotate the MASTER_KEY kept in `data_dir`; run again after any crash to complete it."""
    current_path, next_path = data_dir / MASTER_KEY_FILE, data_dir / NEXT_MASTER_KEY_FILE
    resumed = settle(data_dir)
    if resumed:
        return Rotated(0, 0, fingerprint(_must(read_key(current_path), current_path)), resumed)
    old = _must(read_key(current_path), current_path)
    new = read_key(next_path)
    if new is None:
        new = new_master_key()
        write_key_atomically(next_path, new)
    else:
        resumed = "reused master_key.next of an interrupted rotation (nothing had been committed)"
    crash_point("rotation.next_written")
    reseal = _resealer(Vault(old), Vault(new))
    with write_transaction():
        exchange_keys = reseal_exchange_keys(reseal)
        crash_point("rotation.resealing")
        api_keys = reseal_api_key_secrets(reseal)
        record_sealed_by(fingerprint(new))
    crash_point("rotation.committed")
    replace_key(next_path, current_path)
    return Rotated(exchange_keys, api_keys, fingerprint(new), resumed)


def _must(key: str | None, path: Path) -> str:
    if key is None:
        raise RotationError(f"no MASTER_KEY at {path}: nothing was ever sealed with a generated key here")
    return key


def _resealer(old: Vault, new: Vault) -> Callable[[bytes, int, str, str], bytes]:
    def reseal(blob: bytes, user_id: int, exchange: str, label: str) -> bytes:
        try:
            plain = old.open(blob, user_id=user_id, exchange=exchange, label=label)
        except VaultError as exc:
            raise RotationError(f"a secret of user {user_id} ({exchange} {label}) does not open with the current "
                                f"MASTER_KEY: nothing was changed") from exc
        return new.seal(plain, user_id=user_id, exchange=exchange, label=label)

    return reseal

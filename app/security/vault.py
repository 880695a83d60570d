"""Exchange secrets at rest: AES-256-GCM, bound to the user and exchange by associated data.

A ciphertext copied into another user's row fails to decrypt. Layout: version byte, nonce, ciphertext.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = 1


class VaultError(Exception):
    pass


class Vault:
    def __init__(self, master_key_hex: str) -> None:
        self._aead = AESGCM(bytes.fromhex(master_key_hex))

    @staticmethod
    def _aad(user_id: int, exchange: str, label: str) -> bytes:
        return f"{user_id}|{exchange}|{label}|v{_VERSION}".encode()

    def seal(self, plaintext: str, *, user_id: int, exchange: str, label: str) -> bytes:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), self._aad(user_id, exchange, label))
        return bytes([_VERSION]) + nonce + ct

    def open(self, blob: bytes, *, user_id: int, exchange: str, label: str) -> str:
        if len(blob) < 29 or blob[0] != _VERSION:
            raise VaultError("unknown ciphertext format")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], self._aad(user_id, exchange, label)).decode()
        except InvalidTag as exc:
            raise VaultError("ciphertext does not belong to this user or key") from exc

    def __repr__(self) -> str:
        return "Vault(<hidden>)"

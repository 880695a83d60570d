"""Opening accounts: the user row, the starting wallet booked from the genesis account, and keys."""

from __future__ import annotations

import logging
from decimal import Decimal

from app.domain.ledger import HOUSE_GENESIS, transfer, user_free
from app.domain.positions import Position as PositionState
from app.persistence.db import write_transaction
from app.persistence.exchange import delete_exchange_key, exchange_key, save_exchange_key
from app.persistence.ledger import post_entries
from app.persistence.models import User
from app.persistence.positions import save_position
from app.persistence.users import create_user
from app.security.vault import Vault

log = logging.getLogger("troupe")


class EmailTaken(Exception):
    pass


def open_account(email: str, password_hash: str, wallet: tuple[tuple[str, Decimal], ...],
                 marks: dict[str, Decimal], vault: Vault, binance_key: str | None,
                 binance_secret: str | None) -> User:
    """Create the user with its starting wallet in one transaction.

    Starting holdings enter positions at the mark price of the moment (zero if there is none yet),
    so unrealized PnL starts at zero.
    """
    with write_transaction():
        user = create_user(email, password_hash)
        if user is None:
            raise EmailTaken(email)
        entries = [transfer("genesis", f"{user.id}/{asset}", "deposit", asset, amount, HOUSE_GENESIS,
                            user_free(user.id))
                   for asset, amount in wallet if amount > 0]
        post_entries(entries)
        for asset, amount in wallet:
            if asset != "USDT" and amount > 0:
                save_position(user.id, PositionState(asset, amount, marks.get(asset, Decimal(0)), Decimal(0)))
        if binance_key and binance_secret:
            store_exchange_key(vault, user.id, binance_key, binance_secret)
        return user


def store_exchange_key(vault: Vault, user_id: int, api_key: str, secret: str) -> None:
    save_exchange_key(user_id, vault.seal(api_key, user_id=user_id, exchange="binance", label="api_key"),
                      vault.seal(secret, user_id=user_id, exchange="binance", label="secret"), api_key[-4:])


def key_last4(user_id: int) -> str | None:
    row = exchange_key(user_id)
    return None if row is None else row.api_key_last4


def replace_exchange_key(vault: Vault, user_id: int, api_key: str, secret: str) -> None:
    with write_transaction():
        store_exchange_key(vault, user_id, api_key, secret)
    log.info("user %s set its exchange key (ending %s)", user_id, api_key[-4:])


def remove_exchange_key(user_id: int) -> bool:
    with write_transaction():
        removed = delete_exchange_key(user_id)
    if removed:
        log.info("user %s removed its exchange key", user_id)
    return removed

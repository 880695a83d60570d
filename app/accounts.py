"""Opening accounts: the user row, the starting wallet booked from the genesis account, and keys."""

from __future__ import annotations

from decimal import Decimal

from peewee import IntegrityError

from app.domain.ledger import HOUSE_GENESIS, transfer, user_free
from app.domain.positions import Position as PositionState
from app.persistence.db import db, write_transaction
from app.persistence.models import ExchangeKey, User
from app.persistence.store import post_entries, save_position
from app.security.vault import Vault


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
        try:
            with db.atomic():
                user = User.create(email=email, password_hash=password_hash)
        except IntegrityError as exc:
            raise EmailTaken(email) from exc
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
    (ExchangeKey.insert(user_id=user_id, exchange="binance",
                        api_key_enc=vault.seal(api_key, user_id=user_id, exchange="binance", label="api_key"),
                        secret_enc=vault.seal(secret, user_id=user_id, exchange="binance", label="secret"),
                        api_key_last4=api_key[-4:])
     .on_conflict_replace().execute())


def key_last4(user_id: int) -> str | None:
    row = ExchangeKey.get_or_none((ExchangeKey.user_id == user_id) & (ExchangeKey.exchange == "binance"))
    return None if row is None else row.api_key_last4


def replace_exchange_key(vault: Vault, user_id: int, api_key: str, secret: str) -> None:
    with write_transaction():
        store_exchange_key(vault, user_id, api_key, secret)


def remove_exchange_key(user_id: int) -> bool:
    with write_transaction():
        return bool(ExchangeKey.delete().where((ExchangeKey.user_id == user_id)
                                               & (ExchangeKey.exchange == "binance")).execute())

"""EXCHANGE=binance: users' exchange API keys (sealed by the vault) and balances as the exchange reported them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from app.persistence.models import ExchangeBalance, ExchangeKey
from app.persistence.orders import of_shard

EXCHANGE = "binance"


def exchange_key(user_id: int) -> ExchangeKey | None:
    return ExchangeKey.get_or_none((ExchangeKey.user_id == user_id) & (ExchangeKey.exchange == EXCHANGE))


def save_exchange_key(user_id: int, api_key_enc: bytes, secret_enc: bytes, api_key_last4: str) -> None:
    """Store the sealed pair, replacing the user's previous one."""
    (ExchangeKey.insert(user_id=user_id, exchange=EXCHANGE, api_key_enc=api_key_enc, secret_enc=secret_enc,
                        api_key_last4=api_key_last4)
     .on_conflict_replace().execute())


def delete_exchange_key(user_id: int) -> bool:
    """Forget the user's key pair; False if there was none."""
    return bool(ExchangeKey.delete().where((ExchangeKey.user_id == user_id)
                                           & (ExchangeKey.exchange == EXCHANGE)).execute())


def users_with_keys(shard: int, shards: int) -> list[int]:
    """The users of one executor shard (`user_id % shards`) who stored exchange keys."""
    return [k.user_id for k in ExchangeKey.select(ExchangeKey.user_id)
            .where((ExchangeKey.exchange == EXCHANGE) & of_shard(ExchangeKey.user_id, shard, shards))]


def replace_exchange_balances(user_id: int, rows: list[tuple[str, Decimal, Decimal]], now: int) -> None:
    """The user's balances become exactly `rows` (asset, free, locked), as of `now`."""
    ExchangeBalance.delete().where(ExchangeBalance.user_id == user_id).execute()
    for asset, free, locked in rows:
        ExchangeBalance.insert(user_id=user_id, asset=asset, free=free, locked=locked, updated_at=now).execute()


def exchange_balances(user_id: int) -> list[ExchangeBalance]:
    """The user's balances as the exchange last reported them, by asset."""
    return list(ExchangeBalance.select().where(ExchangeBalance.user_id == user_id).order_by(ExchangeBalance.asset))


def reseal_exchange_keys(reseal: Callable[[bytes, int, str, str], bytes]) -> int:
    """Key rotation: replace both ciphertexts of every stored pair by `reseal(blob, user_id, exchange,
    label)`; the caller holds the write transaction. Returns the pairs re-sealed."""
    count = 0
    for row in ExchangeKey.select():
        user_id, exchange = int(row.user_id), str(row.exchange)
        (ExchangeKey.update(api_key_enc=reseal(bytes(row.api_key_enc), user_id, exchange, "api_key"),
                            secret_enc=reseal(bytes(row.secret_enc), user_id, exchange, "secret"))
         .where((ExchangeKey.user_id == user_id) & (ExchangeKey.exchange == exchange)).execute())
        count += 1
    return count

"""Registering an account, with no HTTP in it: the password policy, bcrypt off the event loop, and
the account opened (app/accounts.py) with its starting holdings at the marks of the moment.

Refusals are the app layer's own exceptions (`PasswordPolicyError`, `EmailTaken`); the web edge
turns them into problems (web/refusals.py). Rate limits and sessions stay in the web layer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from app.accounts import open_account
from app.market_data import MarketData
from app.security.passwords import check_policy, hash_password
from app.security.vault import Vault

log = logging.getLogger("troupe")

if TYPE_CHECKING:
    from app.persistence.models import User


async def register_account(email: str, password: str, api_key: str | None, secret: str | None, *,
                           rounds: int, wallet: tuple[tuple[str, Decimal], ...], vault: Vault,
                           market: MarketData, cpu_pool: Executor, in_db: Callable[..., Awaitable[Any]]) -> User:
    """Open an account for `email` (`in_db` runs a database function on the pool); raises
    PasswordPolicyError or EmailTaken."""
    check_policy(password)
    hashed = await asyncio.get_running_loop().run_in_executor(cpu_pool, hash_password, password, rounds)
    marks = await market.marks()
    user: User = await in_db(open_account, email, hashed, wallet, marks, vault, api_key, secret)
    log.info("registered user %s%s", user.id, " with an exchange key" if api_key and secret else "")
    return user

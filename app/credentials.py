"""Checking a sign-in's credentials, with no HTTP in it: one bcrypt check off the event loop (an
unknown e-mail pays for one too, so timing does not tell which e-mails exist), then whether the
account may sign in at all.

Refusals are the app layer's own exceptions; the web edge turns them into problems
(web/refusals.py) and keeps the rate limits that come around them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from app.persistence.users import user_by_email
from app.security.passwords import verify_password

if TYPE_CHECKING:
    from app.persistence.models import User


class WrongCredentials(Exception):
    """No account has this e-mail, or this is not its password (the caller is not told which)."""


class AccountDisabled(Exception):
    """The password is right, but the operator disabled the account."""


async def check_password(email: str, password: str, *, rounds: int, cpu_pool: Executor,
                         in_db: Callable[..., Awaitable[Any]]) -> User:
    """The user whose e-mail and password these are (`in_db` runs a database function on the pool);
    raises WrongCredentials."""
    user: User | None = await in_db(user_by_email, email)
    ok = await asyncio.get_running_loop().run_in_executor(
        cpu_pool, verify_password, password, user.password_hash if user else None, rounds)
    if not ok or user is None:
        raise WrongCredentials(email)
    return user


def ensure_enabled(user: User) -> None:
    """Raises AccountDisabled; ask it only after the password checked, so only its owner learns it."""
    if user.disabled_at is not None:
        raise AccountDisabled(user.id)

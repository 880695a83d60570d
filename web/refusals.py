"""The one table at the web edge that turns the app layer's refusals into problem documents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from app.accounts import EmailTaken
from app.credentials import AccountDisabled, WrongCredentials
from app.security.passwords import PasswordPolicyError
from web.problems import Problem


class Refusal(NamedTuple):
    """How a refusal is answered; `detail` None: in the exception's own words."""

    status: int
    code: str
    field: str | None = None
    detail: str | None = None


REFUSALS: dict[type[Exception], Refusal] = {
    PasswordPolicyError: Refusal(400, "BAD_REQUEST", "password"),
    EmailTaken: Refusal(409, "EMAIL_TAKEN", "email", "that e-mail address is already registered; sign in instead"),
    WrongCredentials: Refusal(401, "INVALID_CREDENTIALS", detail="wrong e-mail or password"),
    AccountDisabled: Refusal(403, "ACCOUNT_DISABLED", detail="this account is disabled; ask the operator"),
}


def as_problem(exc: Exception) -> Problem:
    """The problem that answers a refusal listed in REFUSALS."""
    refusal = next(REFUSALS[c] for c in type(exc).__mro__ if c in REFUSALS)
    return Problem(refusal.status, str(exc) if refusal.detail is None else refusal.detail, code=refusal.code,
                   field=refusal.field)


@contextmanager
def refusals_as_problems() -> Iterator[None]:
    """Inside, a refusal of the app layer leaves as the Problem the table gives it."""
    try:
        yield
    except tuple(REFUSALS) as exc:
        raise as_problem(exc) from None

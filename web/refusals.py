"""The one table at the web edge from refusals to HTTP: the app layer's (their exceptions) and the actors'
(the `RejectionKind` of a reply), each to a status, a problem code and field, and any headers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from aiohttp import web

from app.accounts import EmailTaken
from app.credentials import AccountDisabled, WrongCredentials
from app.domain.answers import Answer, RejectionKind
from app.messages import Reply
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


class KindStatus(NamedTuple):
    """How a rejection of one kind is answered; the problem's code and detail come with the rejection."""

    status: int
    headers: dict[str, str] | None = None


REJECTIONS: dict[RejectionKind, KindStatus] = {
    RejectionKind.INVALID: KindStatus(400),
    RejectionKind.FILTER_FAILURE: KindStatus(422),
    RejectionKind.NOT_FOUND: KindStatus(404),
    RejectionKind.CONFLICT: KindStatus(409),
    RejectionKind.NO_FUNDS: KindStatus(409),
    RejectionKind.TOO_MANY_OPEN_ORDERS: KindStatus(429),
    RejectionKind.STALE_PRICES: KindStatus(503),
    RejectionKind.UNAVAILABLE: KindStatus(503, {"Retry-After": "1"}),
}

SUCCESSES: dict[Answer, int] = {Answer.ACCEPTED: 202, Answer.CREATED: 201, Answer.OK: 200}


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


def rejection(kind: RejectionKind, code: str, detail: str, field: str | None = None) -> Problem:
    """The problem that answers an actor's rejection of `kind`."""
    answer = REJECTIONS[kind]
    return Problem(answer.status, detail, code=code, field=field, headers=answer.headers)


def reply_response(reply: Reply) -> web.Response:
    """The response to an actor's reply: a success's body with its status, or the rejection's problem."""
    if reply.answer == Answer.REJECTED:
        raise rejection(RejectionKind(reply.kind), str(reply.code), str(reply.message), reply.field)
    return web.json_response(reply.body, status=SUCCESSES[Answer(reply.answer)])

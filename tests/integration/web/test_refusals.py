"""The web edge's table of the app layer's refusals: each one becomes the problem it always was."""

from __future__ import annotations

import pytest

from app.accounts import EmailTaken
from app.credentials import AccountDisabled, WrongCredentials
from app.security.passwords import PasswordPolicyError, check_policy
from web.problem_types import PROBLEM_TYPES
from web.problems import Problem
from web.refusals import REFUSALS, as_problem, refusals_as_problems


def test_every_refusal_has_a_problem_page() -> None:
    assert {r.code for r in REFUSALS.values()} <= PROBLEM_TYPES.keys()


@pytest.mark.parametrize(("exc", "status", "code", "field", "detail"), [
    (EmailTaken("a@b.c"), 409, "EMAIL_TAKEN", "email", "that e-mail address is already registered; sign in instead"),
    (WrongCredentials("a@b.c"), 401, "INVALID_CREDENTIALS", None, "wrong e-mail or password"),
    (AccountDisabled(7), 403, "ACCOUNT_DISABLED", None, "this account is disabled; ask the operator"),
])
def test_a_refusal_becomes_its_problem(exc: Exception, status: int, code: str, field: str | None,
                                       detail: str) -> None:
    problem = as_problem(exc)
    assert (problem.status, problem.code, problem.field, problem.detail) == (status, code, field, detail)


def test_a_password_refusal_keeps_the_policys_words() -> None:
    with pytest.raises(Problem) as caught, refusals_as_problems():
        check_policy("short")
    assert (caught.value.status, caught.value.code, caught.value.field) == (400, "BAD_REQUEST", "password")
    assert caught.value.detail == "password must be at least 10 characters"
    assert isinstance(caught.value.__context__, PasswordPolicyError) and caught.value.__suppress_context__


def test_anything_else_passes_through_unchanged() -> None:
    with pytest.raises(KeyError), refusals_as_problems():
        raise KeyError("not a refusal")

"""Logins reveal no accounts."""

from __future__ import annotations

from typing import Any

import bcrypt
import pytest

from tests.helpers import new_email, register

WRONG = "not the password at all"


@pytest.mark.parametrize("rounds", [4, 6])
async def test_unknown_and_registered_emails_cost_the_same_bcrypt_work(make_client: Any, rounds: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client(bcrypt_rounds=rounds)
    email = new_email()
    await register(client, email)
    costs: list[int] = []
    check = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))  # $2b$<cost>$<salt+hash>
        return check(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    registered = await client.post("/auth/login", json={"email": email, "password": WRONG})
    unknown = await client.post("/auth/login", json={"email": new_email(), "password": WRONG})
    assert registered.status == unknown.status == 401
    assert await registered.json() == await unknown.json()
    assert costs == [rounds, rounds]  # one check each, at the configured cost

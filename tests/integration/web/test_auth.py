"""Registration, login, tokens, and secrets at rest."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from app.persistence.models import ExchangeKey, User
from app.security.tokens import AUDIENCE, ISSUER
from tests.support.helpers import PASSWORD, auth, new_email, register
from web.app_keys import SECRETS, VAULT


async def test_register_login_me(client: Any) -> None:
    email = new_email()
    _token, user = await register(client, email)
    assert user["email"] == email and "password" not in str(user)
    resp = await client.post("/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert resp.status == 200
    me = await client.get("/auth/me", headers=auth((await resp.json())["token"]))
    assert (await me.json())["user"]["id"] == user["id"]
    stored = User.get_by_id(user["id"])
    assert stored.password_hash.startswith("$2b$") and PASSWORD not in stored.password_hash


async def test_wrong_password_and_unknown_user_look_the_same(client: Any) -> None:
    email = new_email()
    await register(client, email)
    bad = await client.post("/auth/login", json={"email": email, "password": "wrong password!!"})
    unknown = await client.post("/auth/login", json={"email": new_email(), "password": PASSWORD})
    assert bad.status == unknown.status == 401
    assert (await bad.json())["detail"] == (await unknown.json())["detail"]


@pytest.mark.parametrize("password,status", [("short", 400), ("é" * 40, 400), ("x" * 73, 400)])
async def test_password_policy_and_bcrypt_limit_are_client_errors(client: Any, password: str, status: int) -> None:
    resp = await client.post("/auth/register", json={"email": new_email(), "password": password})
    assert resp.status == status and (await resp.json())["field"] == "password"


async def test_overlong_password_at_login_is_just_wrong_credentials(client: Any) -> None:
    resp = await client.post("/auth/login", json={"email": new_email(), "password": "p" * 500})
    assert resp.status == 401


async def test_duplicate_email_is_a_conflict(client: Any) -> None:
    email = new_email()
    await register(client, email)
    resp = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert resp.status == 409


def _forge(client: Any, **changes: Any) -> str:
    secret = client.app[SECRETS]["jwt"]
    now = int(time.time())
    claims = {"sub": "1", "ver": 0, "iat": now, "nbf": now, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE}
    claims.update(changes.pop("claims", {}))
    key = changes.pop("key", secret)
    alg = changes.pop("alg", "HS256")
    return jwt.encode(claims, key, algorithm=alg)


async def test_bad_tokens_are_all_401(client: Any) -> None:
    await register(client)
    now = int(time.time())
    header, payload, _sig = _forge(client).split(".")
    tokens = [
        _forge(client, claims={"exp": now - 100}),
        _forge(client, claims={"nbf": now + 3600}),
        _forge(client, key="another-secret-that-is-long-enough-0123456789"),
        _forge(client, alg="HS512"),
        _forge(client, claims={"aud": "someone-else"}),
        f"{header}.{payload}.",
        jwt.encode({"sub": "1"}, None, algorithm="none"),  # type: ignore[arg-type]
        "not-a-token",
    ]
    for token in tokens:
        resp = await client.get("/auth/me", headers=auth(token))
        assert resp.status == 401, token
    assert (await client.get("/api/trading/orders")).status == 401


async def test_exchange_secrets_are_encrypted_bound_to_the_user_and_never_returned(client: Any) -> None:
    api_key, secret = "A" * 20 + "1234", "S" * 64
    resp = await client.post("/auth/register", json={"email": new_email(), "password": PASSWORD,
                                                     "binanceApiKey": api_key, "binanceSecretKey": secret})
    body = await resp.json()
    assert resp.status == 201 and body["user"]["binanceKey"] == {"apiKeyLast4": "1234"}
    assert secret not in await resp.text() and api_key not in await resp.text()
    row = ExchangeKey.get(ExchangeKey.user_id == body["user"]["id"])
    assert secret.encode() not in bytes(row.secret_enc)
    vault = client.app[VAULT]
    assert vault.open(bytes(row.secret_enc), user_id=row.user_id, exchange="binance", label="secret") == secret
    from app.security.vault import VaultError
    with pytest.raises(VaultError):  # copied into another user's row, it does not decrypt
        vault.open(bytes(row.secret_enc), user_id=row.user_id + 1, exchange="binance", label="secret")
    me = await client.get("/auth/me", headers=auth(body["token"]))
    assert secret not in await me.text()


async def test_login_is_rate_limited(make_client: Any) -> None:
    cli = await make_client(auth_rate_per_min=3)
    statuses = [(await cli.post("/auth/login", json={"email": "a@b.co", "password": "x" * 12})).status
                for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[3] == 429

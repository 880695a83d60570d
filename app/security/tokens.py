"""Signed, expiring access tokens (HS256 pinned; the header's alg is never trusted)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ISSUER = "troupe"
AUDIENCE = "troupe-api"


class TokenError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: int
    token_version: int


def issue(secret: str, user_id: int, token_version: int, ttl_s: int, now: float | None = None) -> str:
    now = time.time() if now is None else now
    payload = {"sub": str(user_id), "ver": token_version, "iat": int(now), "nbf": int(now),
               "exp": int(now) + ttl_s, "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(payload, secret, algorithm="HS256")


def verify(secret: str, token: str) -> Claims:
    try:
        data = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, leeway=5,
                          options={"require": ["exp", "iat", "sub", "nbf"]})
        sub = data["sub"]
        ver = data.get("ver", 0)
        if not isinstance(sub, str) or not sub.isdigit() or not isinstance(ver, int) or isinstance(ver, bool):
            raise TokenError("malformed claims")
        return Claims(int(sub), ver)
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc

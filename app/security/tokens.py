"""Signed, expiring access tokens (HS256 pinned; the header's alg is never trusted).

A token names the server-side session it belongs to (`sid`): the signature proves who issued it,
the session store (web/auth_guard.py) says whether that session is still alive.
"""

from __future__ import annotations

import hashlib
import secrets
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
    sid: str
    exp: int  # epoch seconds
    # A request signed with an API key (web/api_key_auth.py): the key and what it may do. None for a
    # session token, which holds every scope.
    key_id: int | None = None
    permissions: frozenset[str] | None = None


def issue(secret: str, user_id: int, token_version: int, ttl_s: int, now: float | None = None, *,
          sid: str) -> str:
    now = time.time() if now is None else now
    payload = {"sub": str(user_id), "ver": token_version, "sid": sid, "iat": int(now), "nbf": int(now),
               "exp": int(now) + ttl_s, "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(payload, secret, algorithm="HS256")


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits, so a plain SHA-256 of it is a safe thing to store."""
    return secrets.token_urlsafe(32)


def refresh_hash(token: str) -> str:
    """What the database keeps of a refresh token (a stolen database yields no usable token)."""
    return hashlib.sha256(token.encode(errors="surrogatepass")).hexdigest()


class TokenCache:
    """Claims of tokens already verified by PyJWT, keyed by the whole token (signature included).

    A token string can only be in the cache if PyJWT accepted it; expiry is re-checked on every
    use, so a cached token stops working exactly when an uncached one would.
    """

    def __init__(self, secret: str, max_size: int = 50_000) -> None:
        self.secret = secret
        self.max_size = max_size
        self._cache: dict[str, Claims] = {}

    def verify(self, token: str, now: float | None = None) -> Claims:
        now = time.time() if now is None else now
        claims = self._cache.get(token)
        if claims is not None:
            if now < claims.exp + LEEWAY_S:
                return claims
            del self._cache[token]
            raise TokenError("Signature has expired")
        claims = _verify(self.secret, token)
        if len(self._cache) >= self.max_size:
            self._cache.clear()  # a cache of verified signatures: dropping it costs only re-verification
        self._cache[token] = claims
        return claims


LEEWAY_S = 5


def _verify(secret: str, token: str) -> Claims:
    if not token.isascii():  # a JWT is base64url and dots; PyJWT's encode() would raise on a surrogate
        raise TokenError("malformed token")
    try:
        data = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY_S,
                          options={"require": ["exp", "iat", "sub", "nbf", "sid"]})
        sub, ver, sid = data["sub"], data.get("ver", 0), data["sid"]
        if (not isinstance(sub, str) or not sub.isdigit() or not isinstance(ver, int) or isinstance(ver, bool)
                or not isinstance(sid, str) or not 0 < len(sid) <= 64):
            raise TokenError("malformed claims")
        return Claims(int(sub), ver, sid, int(data["exp"]))
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc

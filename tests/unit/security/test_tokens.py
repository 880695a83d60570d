"""The verified-token cache never accepts what PyJWT would refuse."""

from __future__ import annotations

import time

import pytest

from app.security.tokens import LEEWAY_S, TokenCache, TokenError, issue

SECRET = "s" * 48


def test_cached_token_still_expires_on_time() -> None:
    cache = TokenCache(SECRET)
    now = time.time()
    token = issue(SECRET, 7, 0, ttl_s=60, now=now, sid="s1")
    assert cache.verify(token, now=now).user_id == 7
    assert cache.verify(token, now=now + 30).user_id == 7  # served from the cache
    with pytest.raises(TokenError):
        cache.verify(token, now=now + 60 + LEEWAY_S + 1)


def test_a_forged_token_is_never_cached_into_acceptance() -> None:
    cache = TokenCache(SECRET)
    good = issue(SECRET, 7, 0, ttl_s=60, sid="s1")
    forged = issue("another-secret-" + "x" * 40, 7, 0, ttl_s=60, sid="s1")
    assert cache.verify(good).user_id == 7
    for _ in range(2):
        with pytest.raises(TokenError):
            cache.verify(forged)
    header, payload, sig = good.split(".")
    with pytest.raises(TokenError):
        cache.verify(f"{header}.{payload}.{sig[:-2]}AA")

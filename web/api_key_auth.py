"""Requests signed with an API key (`X-MBX-APIKEY`, `timestamp`, `recvWindow`, `signature`), verified
the way Binance verifies them, from memory.

Each web process caches the keys it has seen (id -> user, permissions, allow-list and the secret,
decrypted once and kept only in memory) for AUTH_CACHE_SECONDS: a hit costs a SHA-256, an HMAC and
no database query. A revocation reaches every process at once as an auth notice naming the key's
pseudo-session (app/messaging/auth_notices.py), which drops it here and closes its WebSockets;
a notice for a whole account drops that account's keys; a gap in the subscription drops them all.
"Last used" and "from which address" are written off the request path, when the address is new
to this process or at most once every API_KEY_TOUCH_SECONDS per key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from app.api_keys import (
    SignedParams,
    address_allowed,
    key_id_of_sid,
    key_lookup_hash,
    key_sid,
    parse_allowlist,
    signature_ok,
    signed_params,
    within_recv_window,
)
from app.clock import now_ms
from app.messaging.auth_notices import AuthNotice
from app.persistence import activity
from app.persistence.api_keys import KeyRow, key_by_hash, key_by_id, touch_key
from app.security.tokens import Claims
from app.security.vault import Vault, VaultError
from settings import Network
from web.problems import Problem

log = logging.getLogger("troupe.security")

API_KEY_HEADER = "X-MBX-APIKEY"
VAULT_DOMAIN = "troupe-api-key"  # the vault's associated data: (user id, this, "key:<id>")
NO_EXPIRY_S = 4_102_444_800  # 2100-01-01: the `exp` of claims of a key that never expires
Loader = Callable[[str | int], Awaitable[KeyRow | None]]


def note_key_event(kind: str, user_id: int, key_id: int, ip: str | None) -> None:
    """One security event of an API key (`key_created`, `key_used_from_new_address`, `key_revoked`):
    a row of the user's activity log and one INFO line, never the key or its secret. On a database thread."""
    activity.record(user_id, kind, ip=ip, user_agent=None, detail={"keyId": str(key_id)})


def seal_secret(vault: Vault, secret: str, user_id: int, key_id: int) -> bytes:
    return vault.seal(secret, user_id=user_id, exchange=VAULT_DOMAIN, label=f"key:{key_id}")


@dataclass(slots=True)
class VerifiedKey:
    """A key as this process trusts it until `deadline` (monotonic seconds)."""

    claims: Claims
    key_hash: str
    allowlist: tuple[Network, ...]
    expires_at: int | None  # epoch ms
    secret: str = field(repr=False)
    deadline: float = 0.0
    touched_at: float = float("-inf")  # monotonic: when this process last wrote its use
    touched_ips: set[str] = field(default_factory=set)


class ApiKeyCache:
    """Verified keys by key hash, and by id for notices and WebSocket tickets."""

    def __init__(self, load: Loader, vault: Vault, ttl_s: float, max_entries: int = 20_000) -> None:
        self._load = load
        self._vault = vault
        self._ttl_s = ttl_s
        self._max = max_entries
        self._by_hash: dict[str, VerifiedKey] = {}
        self._by_id: dict[int, str] = {}
        self._epoch = 0  # bumped by every notice: a load that overlapped one is not cached
        self.loads = 0  # database reads so far (tests check the cache works)

    async def by_key(self, api_key: str) -> VerifiedKey | None:
        """The live key, or None for an unknown, revoked or dead one (expiry is the caller's check)."""
        key_hash = key_lookup_hash(api_key)
        hit = self._by_hash.get(key_hash)
        if hit is not None and time.monotonic() < hit.deadline:
            return hit
        return await self._fetch(key_hash)

    async def by_id(self, key_id: int) -> VerifiedKey | None:
        key_hash = self._by_id.get(key_id)
        hit = self._by_hash.get(key_hash) if key_hash else None
        if hit is not None and time.monotonic() < hit.deadline:
            return hit
        return await self._fetch(key_id)

    async def _fetch(self, which: str | int) -> VerifiedKey | None:
        epoch = self._epoch
        self.loads += 1
        row = await self._load(which)
        if row is None or not row.alive:
            return None
        try:
            secret = self._vault.open(row.secret_enc, user_id=row.user_id, exchange=VAULT_DOMAIN,
                                      label=f"key:{row.id}")
        except VaultError:
            log.warning("API key %s: its sealed secret does not open (wrong MASTER_KEY?); refused", row.id)
            return None
        exp = NO_EXPIRY_S if row.expires_at is None else row.expires_at // 1000
        permissions = frozenset(p for p in row.permissions.split(",") if p)
        claims = Claims(row.user_id, 0, key_sid(row.id), exp, key_id=row.id, permissions=permissions)
        entry = VerifiedKey(claims, row.key_hash, parse_allowlist(row.ip_allowlist), row.expires_at, secret)
        if epoch == self._epoch:
            self._remember(entry)
        return entry

    def _remember(self, entry: VerifiedKey) -> None:
        old = self._by_hash.pop(entry.key_hash, None)
        if old is not None:  # keep what this process already wrote of its use
            entry.touched_at, entry.touched_ips = old.touched_at, old.touched_ips
        if len(self._by_hash) >= self._max:  # oldest first; a miss only costs a read
            for key_hash in list(self._by_hash)[: self._max // 10]:
                self._forget(key_hash)
        entry.deadline = time.monotonic() + self._ttl_s
        self._by_hash[entry.key_hash] = entry
        assert entry.claims.key_id is not None
        self._by_id[entry.claims.key_id] = entry.key_hash

    def _forget(self, key_hash: str) -> None:
        entry = self._by_hash.pop(key_hash, None)
        if entry is not None and entry.claims.key_id is not None:
            self._by_id.pop(entry.claims.key_id, None)

    def on_notice(self, notice: AuthNotice | None) -> None:
        """A revoked key or account drops its entries; None (notices may have been missed) drops all."""
        self._epoch += 1
        if notice is None:
            self._by_hash.clear()
            self._by_id.clear()
        elif notice.user_id is not None:
            for key_hash in [h for h, e in self._by_hash.items() if e.claims.user_id == notice.user_id]:
                self._forget(key_hash)
        elif (key_id := notice.key_id) is not None and (key_hash := self._by_id.get(key_id)) is not None:
            self._forget(key_hash)


class KeyUse:
    """Writes a key's last use off the request path, throttled per key (a new address at once)."""

    def __init__(self, pool_call: Callable[..., Awaitable[object]], every_s: float) -> None:
        self._call = pool_call
        self._every_s = every_s
        self._tasks: set[asyncio.Task[None]] = set()

    def note(self, entry: VerifiedKey, ip: str) -> None:
        now = time.monotonic()
        if ip in entry.touched_ips and now - entry.touched_at < self._every_s:
            return
        entry.touched_at = now
        if len(entry.touched_ips) >= 64:  # bounded: a key used from very many addresses forgets older ones
            entry.touched_ips.clear()
        entry.touched_ips.add(ip)
        claims = entry.claims
        assert claims.key_id is not None
        task = asyncio.create_task(self._write(claims.user_id, claims.key_id, ip))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, user_id: int, key_id: int, ip: str) -> None:
        try:
            await self._call(_touch_and_note, user_id, key_id, ip, now_ms())
        except Exception as exc:  # a lost "last used" must never fail anything
            log.warning("API key %s: could not record its use: %s", key_id, exc)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _touch_and_note(user_id: int, key_id: int, ip: str, at: int) -> None:
    if touch_key(key_id, ip, at):
        note_key_event("key_used_from_new_address", user_id, key_id, ip)


_CHALLENGE = {"WWW-Authenticate": API_KEY_HEADER}


async def live_key(cache: ApiKeyCache, api_key: str) -> VerifiedKey:
    """The live, unexpired key; otherwise a 401 problem (shared by signed requests and listen keys)."""
    entry = await cache.by_key(api_key) if 0 < len(api_key) <= 128 else None
    if entry is None or (entry.expires_at is not None and now_ms() >= entry.expires_at):
        raise Problem(401, "the API key is unknown, revoked or expired", code="UNAUTHORIZED", headers=_CHALLENGE)
    return entry


def check_address(entry: VerifiedKey, address: str) -> None:
    if not address_allowed(address, entry.allowlist):
        raise Problem(401, "this API key is not allowed from this address (its IP allow-list)",
                      code="ADDRESS_NOT_ALLOWED", headers=_CHALLENGE)


async def verify_signed(cache: ApiKeyCache, uses: KeyUse, request: web.Request, api_key: str,
                        address: str, form_body: bool = False) -> Claims:
    """The claims of a correctly signed request from an allowed address; otherwise a 401 problem
    (SignedRequestError for a malformed request). `form_body`: the signature may end the body
    (app/api_keys.signed_params)."""
    body = await request.read()
    return await verify_params(cache, uses, api_key, lambda: signed_params(request.rel_url.raw_query_string, body,
                                                                            form_body), address)


async def verify_params(cache: ApiKeyCache, uses: KeyUse, api_key: str, signed: Callable[[], SignedParams],
                        address: str) -> Claims:
    """The one verification of a signed request, whatever carried it (an HTTP request, a WebSocket API
    frame): the key, then `signed()` (its parameters, parsed only for a live key), the recvWindow,
    the signature and the allow-list."""
    entry = await live_key(cache, api_key)
    now = now_ms()
    params = signed()
    if not within_recv_window(params.timestamp, params.recv_window, now):
        raise Problem(401, f"timestamp is outside recvWindow ({params.recv_window} ms) of the server's clock "
                      f"({now}); sync the clock or widen recvWindow (at most 60000)", code="OUTSIDE_RECV_WINDOW",
                      field="timestamp", headers=_CHALLENGE)
    if not any(signature_ok(entry.secret, payload, params.signature) for payload in params.payloads()):
        raise Problem(401, "signature does not match: HMAC-SHA256 with the secret key over the query string "
                      "before &signature= followed by the raw body, as hex", code="INVALID_SIGNATURE",
                      field="signature", headers=_CHALLENGE)
    check_address(entry, address)
    uses.note(entry, address)
    return entry.claims


async def key_alive(cache: ApiKeyCache, claims: Claims) -> bool:
    """For a WebSocket opened with a key's ticket: is the key still live and the same user's?"""
    key_id = key_id_of_sid(claims.sid)
    if key_id is None:
        return False
    entry = await cache.by_id(key_id)
    return entry is not None and entry.claims.user_id == claims.user_id and (
        entry.expires_at is None or now_ms() < entry.expires_at)


def load_key_row(which: str | int) -> KeyRow | None:
    """On a database thread: a key by its hash (a request) or its id (a WebSocket ticket)."""
    return key_by_hash(which) if isinstance(which, str) else key_by_id(which)

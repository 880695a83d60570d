"""API keys for bots, pure (no I/O): the permission model, the request body, what is signed, the
signature check and the `recvWindow` rule, all as Binance's signed endpoints do it, so one client
library works for both.

A key holds some of `PERMISSIONS`; a route asks for one `SCOPES` value. A browser or bearer session
holds every scope; a key holds only its permissions and never `account` (managing keys, sessions
or the password is for a signed-in person only).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from app.schemas import SchemaError

PERMISSIONS = ("read", "trade", "cfd")
SCOPES = (*PERMISSIONS, "account")
MAX_KEYS_PER_USER = 20
KEY_LENGTH = 64
RECV_WINDOW_DEFAULT_MS = 5000
RECV_WINDOW_MAX_MS = 60_000
FUTURE_LEEWAY_MS = 1000  # Binance: a timestamp up to one second ahead of the server is accepted
MAX_ALLOWLIST = 20
KEY_SID_PREFIX = "~key"  # `~` is not in a session id's alphabet (token_urlsafe): never a real session
_ALPHABET = string.ascii_letters + string.digits
_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class SignedRequestError(Exception):
    """A signed request is refused: `status` 400 (malformed) or 401 (not authenticated)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """A parsed `POST /api/account/api-keys` body."""

    label: str
    permissions: frozenset[str]
    ip_allowlist: tuple[Network, ...]
    expires_at: int | None  # epoch ms


@dataclass(frozen=True, slots=True)
class SignedParams:
    timestamp: int
    recv_window: int
    signature: str
    payload: bytes  # what the signature covers: the query string before `signature`, then the body
    also: bytes | None = None  # a second form a client may have signed (a WebSocket API frame's, encoded)

    def payloads(self) -> tuple[bytes, ...]:
        return (self.payload,) if self.also is None else (self.payload, self.also)


def new_key_string() -> str:
    """64 random letters and digits (about 381 bits), like Binance's apiKey and secretKey."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(KEY_LENGTH))


def key_lookup_hash(api_key: str) -> str:
    """What the database stores to find a key: SHA-256 of it (the key itself is never stored)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_sid(key_id: int) -> str:
    """The pseudo-session id a key's claims and WebSocket tickets carry (revocation notices name it)."""
    return f"{KEY_SID_PREFIX}{key_id}"


def key_id_of_sid(sid: str | None) -> int | None:
    if sid is None or not sid.startswith(KEY_SID_PREFIX) or not sid[len(KEY_SID_PREFIX):].isdigit():
        return None
    return int(sid[len(KEY_SID_PREFIX):])


def scope_for(method: str, path: str) -> str:
    """The scope a request needs by its method and path, whatever its handler declares."""
    if path.startswith(("/api/account", "/auth/")):
        return "account"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if path.startswith("/api/trading"):
        return "trade"
    if path.startswith("/api/cfd"):
        return "cfd"
    return "read"


def missing_permission(permissions: frozenset[str], *needed: str) -> str | None:
    """The first needed scope a key lacks, or None."""
    return next((scope for scope in needed if scope not in permissions), None)


def signed_params(raw_query: str, body: bytes, form_body: bool = False) -> SignedParams:
    """`timestamp`, `recvWindow` and `signature` from the raw (still percent-encoded) query string.

    `signature` must be the last parameter; it covers every byte of the query string before it
    (without the joining `&`) followed by the raw body, as Binance's `totalParams`. With `form_body`
    (Binance's own routes, whose clients send a POST's parameters form-encoded) a query string
    without a signature lets the body carry it, last, and the other signed parameters too.
    """
    if form_body and body and not any(p.startswith("signature=") for p in raw_query.split("&")):
        text = body.decode("latin-1")
        before, sep, signature = text.rpartition("signature=")
        if sep and (not before or before.endswith("&")) and "&" not in signature:
            signed_body = before[:-1] if before else ""
            parts = [p for p in raw_query.split("&") if p] + [p for p in signed_body.split("&") if p]
            return _signed(parts, signature, raw_query.encode() + signed_body.encode("latin-1"))
    before, sep, signature = raw_query.rpartition("signature=")
    if not sep or (before and not before.endswith("&")) or "&" in signature:
        raise SignedRequestError(400, "BAD_REQUEST", "sign the request: append &signature=<hex HMAC-SHA256 of "
                                 "the query string and the body> as the last query parameter", "signature")
    signed_query = before[:-1] if before else ""
    return _signed(signed_query.split("&") if signed_query else [], signature, signed_query.encode() + body)


def _signed(parts: list[str], signature: str, payload: bytes) -> SignedParams:
    params: dict[str, str] = {}
    for part in parts:
        name, _, value = part.partition("=")
        if name in ("timestamp", "recvWindow", "signature"):
            if name in params or name == "signature":
                raise SignedRequestError(400, "BAD_REQUEST", f"{name} appears more than once", name)
            params[name] = value
    return _checked(params, signature, payload)


def signed_fields(params: dict[str, str], payload: bytes, also: bytes | None = None) -> SignedParams:
    """A request whose parameters are named once each (a WebSocket API frame's `params`), with what
    its signature covers, `payload` (and `also`, a second form some clients sign)."""
    if "signature" not in params:
        raise SignedRequestError(400, "BAD_REQUEST", "sign the request: add signature", "signature")
    return _checked(params, params["signature"], payload, also)


def _checked(params: dict[str, str], signature: str, payload: bytes, also: bytes | None = None) -> SignedParams:
    timestamp = _whole(params.get("timestamp"), "timestamp", required=True)
    window = _whole(params.get("recvWindow"), "recvWindow", required=False)
    if window is None:
        window = RECV_WINDOW_DEFAULT_MS
    elif not 0 < window <= RECV_WINDOW_MAX_MS:
        raise SignedRequestError(400, "BAD_REQUEST", f"recvWindow must be between 1 and {RECV_WINDOW_MAX_MS} ms",
                                 "recvWindow")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", signature):
        raise SignedRequestError(401, "INVALID_SIGNATURE", "signature must be 64 hex digits (HMAC-SHA256)",
                                 "signature")
    assert timestamp is not None
    return SignedParams(timestamp, window, signature.lower(), payload, also)


def _whole(raw: str | None, name: str, required: bool) -> int | None:
    if raw is None or raw == "":
        if required:
            raise SignedRequestError(400, "BAD_REQUEST", f"{name} is required on a signed request (epoch ms)", name)
        return None
    if not re.fullmatch(r"[0-9]{1,15}", raw):
        raise SignedRequestError(400, "BAD_REQUEST", f"{name} must be a whole number of milliseconds", name)
    return int(raw)


def within_recv_window(timestamp: int, recv_window: int, now_ms: int) -> bool:
    """Binance's rule: not more than a second ahead of the server, not older than recvWindow."""
    return timestamp < now_ms + FUTURE_LEEWAY_MS and now_ms - timestamp <= recv_window


def sign(secret: str, payload: bytes) -> str:
    """Hex HMAC-SHA256, as a client computes it (tests and the benchmark sign with this)."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signature_ok(secret: str, payload: bytes, signature: str) -> bool:
    """Compared in constant time."""
    return hmac.compare_digest(sign(secret, payload).encode(), signature.lower().encode())


def address_allowed(address: str, allowlist: tuple[Network, ...]) -> bool:
    """An empty allow-list admits every address; otherwise the address must be in one network."""
    if not allowlist:
        return True
    try:
        ip: Address = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allowlist)


def parse_allowlist(text: str) -> tuple[Network, ...]:
    """The stored form (comma-separated networks) back into networks."""
    return tuple(ipaddress.ip_network(part, strict=False) for part in text.split(",") if part)


def allowlist_text(networks: tuple[Network, ...]) -> str:
    return ",".join(str(n) for n in networks)


def parse_key_request(data: Any, now_ms: int) -> KeyRequest:
    """The strict body of a key creation: label, permissions, optional ipAllowlist and expiresAt."""
    if not isinstance(data, dict):
        raise SchemaError("body must be a JSON object")
    allowed = {"label", "permissions", "ipAllowlist", "expiresAt"}
    for key in data:
        if key not in allowed:
            raise SchemaError(f"unknown field {key!r}; allowed: {', '.join(sorted(allowed))}", key)
    label = data.get("label")
    if not isinstance(label, str) or type(label) is not str or not _LABEL.fullmatch(label.strip()):
        raise SchemaError("label must be a string of 1 to 64 printable characters", "label")
    perms = data.get("permissions")
    if not isinstance(perms, list) or not perms or not all(type(p) is str and p in PERMISSIONS for p in perms) \
            or len(set(perms)) != len(perms):
        raise SchemaError(f"permissions must be a non-empty list of distinct values from {', '.join(PERMISSIONS)}",
                          "permissions")
    networks: tuple[Network, ...] = ()
    raw_list = data.get("ipAllowlist")
    if raw_list is not None:
        if not isinstance(raw_list, list) or len(raw_list) > MAX_ALLOWLIST \
                or not all(type(a) is str for a in raw_list):
            raise SchemaError(f"ipAllowlist must be a list of at most {MAX_ALLOWLIST} IP addresses or CIDR "
                              "networks", "ipAllowlist")
        try:
            networks = tuple(ipaddress.ip_network(a.strip(), strict=False) for a in raw_list)
        except ValueError:
            raise SchemaError("ipAllowlist must hold IP addresses or CIDR networks such as 203.0.113.7 or "
                              "10.0.0.0/8", "ipAllowlist") from None
    expires_at = data.get("expiresAt")
    if expires_at is not None:
        # JSON numbers arrive as their literal text (app.schemas keeps them exact).
        if not isinstance(expires_at, str) or type(expires_at) is str or not re.fullmatch(r"[0-9]{1,15}", expires_at):
            raise SchemaError("expiresAt must be a whole number of epoch milliseconds", "expiresAt")
        expires_at = int(expires_at)
        if expires_at <= now_ms:
            raise SchemaError("expiresAt must be in the future", "expiresAt")
    return KeyRequest(label.strip(), frozenset(perms), networks, expires_at)

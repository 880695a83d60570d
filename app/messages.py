"""Every message that crosses an actor mailbox, and the versioned JSON codec that carries it.

Messages are immutable dataclasses. On the wire a message is
`{"v": 1, "t": "<TypeName>", "d": {...}}` with Decimals as exact strings, so an actor in another
process decodes exactly what was sent.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from app.domain.answers import Answer, RejectionKind

CODEC_VERSION = 1


class CodecError(ValueError):
    """A stream entry could not be decoded into a known message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    msg_id: str  # unique per logical message; consumers dedupe on it


REGISTRY: dict[str, type[Message]] = {}
_M = typing.TypeVar("_M", bound=type[Message])


def message(cls: _M) -> _M:
    """Make `cls` an immutable message and register it with the codec under its class name."""
    made = dataclass(frozen=True, slots=True, kw_only=True)(cls)
    REGISTRY[made.__name__] = made
    return typing.cast(_M, made)


# --- web -> Gateway -------------------------------------------------------------------------

@message
class PlaceOrder(Message):
    reply_to: str
    user_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None


@message
class PlaceOco(Message):
    """An OCO list: a take-profit leg at `price` (stop: `tp_stop_price`) and a stop-loss leg."""

    reply_to: str
    user_id: int
    list_client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    stop_price: Decimal | None = None
    tp_stop_price: Decimal | None = None
    stop_limit_price: Decimal | None = None
    stop_limit_time_in_force: str | None = None
    trailing_delta: int | None = None


@message
class RequestCancel(Message):
    reply_to: str
    user_id: int
    order_id: int


# --- any actor -> a web node's reply stream -------------------------------------------------

@message
class Reply(Message):
    """An actor's answer to a command in the domain's terms; the web edge (`web/refusals.py`) picks the status.

    `answer` is an `Answer` value. A success carries its `body`; a REJECTED one carries its `kind` (a
    `RejectionKind` value), the machine-readable `code`, the `message` for people and the `field` at fault.
    """

    correlation_id: str
    answer: str
    body: dict[str, Any] = dataclasses.field(default_factory=dict)
    kind: str | None = None
    code: str | None = None
    message: str | None = None
    field: str | None = None

    @classmethod
    def ok(cls, correlation_id: str, answer: Answer, body: dict[str, Any]) -> Reply:
        return cls(msg_id=f"reply:{correlation_id}", correlation_id=correlation_id, answer=answer, body=body)

    @classmethod
    def rejected(cls, correlation_id: str, kind: RejectionKind, code: str, message: str,
                 field: str | None = None) -> Reply:
        return cls(msg_id=f"reply:{correlation_id}", correlation_id=correlation_id, answer=Answer.REJECTED,
                   kind=kind, code=code, message=message, field=field)


# --- web -> Executor shard: the CFD desk -------------------------------------------------------

@message
class CfdRequest(Message):
    """A CFD desk command (transfer, open, amend, close); `cmd_id` makes a retry apply once."""

    reply_to: str
    user_id: int
    cmd_id: str
    action: str  # TRANSFER | OPEN | AMEND | CLOSE
    params: dict[str, Any]


# --- Gateway -> Executor shard --------------------------------------------------------------

@message
class SubmitOrder(Message):
    order_id: int
    user_id: int


@message
class CancelOrder(Message):
    order_id: int
    user_id: int


# --- PriceFeed -> market topic ---------------------------------------------------------------

@message
class PriceTick(Message):
    symbol: str
    price: Decimal
    bid: Decimal
    ask: Decimal
    ts: int
    seq: int


@message
class CandleUpdate(Message):
    symbol: str
    candles: dict[str, dict[str, Any]]  # interval -> the open candle


@message
class MarketStatus(Message):
    """A live feed went silent (stale) or came back; market orders wait while it is stale."""

    symbol: str
    stale: bool
    since: int  # ms


# --- Executor -> events topic ----------------------------------------------------------------

@message
class EventBatch(Message):
    """All user events one executor transaction produced: one stream entry instead of many."""

    events: list[dict[str, Any]]  # each {"user_id": int, "kind": str, "data": {...}}


def _default(obj: object) -> str:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise CodecError("non-finite Decimal in a message")
        return format(obj, "f")
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode(msg: Message) -> bytes:
    data = {f.name: getattr(msg, f.name) for f in fields(msg)}
    return json.dumps({"v": CODEC_VERSION, "t": type(msg).__name__, "d": data}, default=_default,
                      separators=(",", ":")).encode()


_HINTS: dict[type[Message], dict[str, Any]] = {}


def _hints(cls: type[Message]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _convert(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    if hint is Decimal or (typing.get_origin(hint) is not None and Decimal in typing.get_args(hint)):
        if not isinstance(value, str):
            raise CodecError("Decimal fields travel as strings")
        return Decimal(value)
    return value


def decode(raw: bytes | str) -> Message:
    try:
        env = json.loads(raw)
        version, name, data = env["v"], env["t"], env["d"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CodecError(f"malformed envelope: {exc}") from exc
    if version != CODEC_VERSION:
        raise CodecError(f"unsupported codec version {version!r}")
    cls = REGISTRY.get(name)
    if cls is None:
        raise CodecError(f"unknown message type {name!r}")
    hints = _hints(cls)
    try:
        return cls(**{k: _convert(v, hints[k]) for k, v in data.items()})
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise CodecError(f"bad {name}: {exc}") from exc

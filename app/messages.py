"""Every message that crosses an actor mailbox, and the versioned JSON codec that carries it.

Messages are immutable dataclasses of typed values: Decimals, enums, and frozen records nested in them
(an `OrderRequest`, the user events of app/events.py). On the wire a message is
`{"v": 2, "t": "<TypeName>", "d": {...}}`: Decimals as exact strings, enums as their values, records as
objects of their fields, and each user event as an object tagged with its `kind`. Decoding follows the
type hints, so an actor in another process gets back exactly what was sent, types included.

Version 1 (before typed commands and events) is still read: an entry written by the old code may wait in
a stream or an outbox row at upgrade time, so its `PlaceOrder`, `PlaceOco` and `EventBatch` (whose events
were rendered JSON) are translated into today's types; every other v1 message has today's shape. Writers
always write v2, so a node running the old code cannot read a new node's entries: upgrade all nodes of a
split deployment together (the durable state, the database and the outbox, carries over).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from app.domain.answers import Answer, RejectionKind
from app.domain.oco import OcoRequest
from app.domain.orders import OrderRequest
from app.domain.tape import Print
from app.events import USER_EVENTS, UserEvent

CODEC_VERSION = 2
READS_VERSIONS = (1, 2)


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
    """An order as the web edge parsed it; the Gateway checks it against the symbol's filters."""

    reply_to: str
    user_id: int
    order: OrderRequest
    trace: dict[str, int] | None = None  # hop -> monotonic ns, with TRACE_HOPS (app/hops.py)
    api_key_id: int | None = None  # the API key that placed it through the Binance-compatible API


@message
class PlaceOco(Message):
    """An OCO list: a take-profit leg at `oco.price` (stop: `tp_stop_price`) and a stop-loss leg."""

    reply_to: str
    user_id: int
    oco: OcoRequest
    api_key_id: int | None = None  # the API key that placed it through the Binance-compatible API


@message
class RequestCancel(Message):
    reply_to: str
    user_id: int
    order_id: int


@message
class ReplaceOrder(Message):
    """An amend: order `order_id` again at a new price (and/or quantity, stop price) under `client_order_id`.

    The Gateway stores the new order naming the old one (`replaces_order_id`); the Executor cancels the old
    and places the new in one transaction, or rejects the new one if the old can no longer be canceled."""

    reply_to: str
    user_id: int
    order_id: int
    client_order_id: str
    price: Decimal | None = None
    quantity: Decimal | None = None
    stop_price: Decimal | None = None


@message
class RequestCancelAll(Message):
    """Cancel every order of the user that is not terminal, of one symbol or (None) all of them."""

    reply_to: str
    user_id: int
    symbol: str | None = None


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


@message
class ResetAccount(Message):
    """Start the account over (web or CLI -> the user's Executor shard): cancel its open orders, close its CFD
    positions at market, sweep its wallet and give the starting wallet afresh, as ledger entries. The
    password was checked by the sender. `request_key` (`u<user>:<clientRequestId>`) makes a retry apply once;
    `msg_id` is the correlation id of the reply."""

    reply_to: str
    user_id: int
    request_key: str


# --- Gateway -> Executor shard --------------------------------------------------------------

@message
class SubmitOrder(Message):
    order_id: int
    user_id: int
    trace: dict[str, int] | None = None  # the PlaceOrder's hops, carried on to the order's OrderUpdated


@message
class CancelOrder(Message):
    order_id: int
    user_id: int


# --- PriceFeed -> market topic ---------------------------------------------------------------

@message
class PriceTick(Message):
    """The last price and the touch; on `topic:market` also the book (app/domain/book.py `MarketBook`).

    `bids`/`asks` are the published levels, best first, as (price, quantity); the update ids
    `book_first`..`book_id` are those this book covers (Binance's U/u; `book_first > book_id`: no
    change). `folded` names the users' fills (`<orderId>:<seq>`) the book took in since the
    previous tick, so an executor shard stops counting them itself. The `prices` hash keeps the
    tick without its book.
    """

    symbol: str
    price: Decimal
    bid: Decimal
    ask: Decimal
    ts: int
    seq: int
    bids: tuple[tuple[Decimal, Decimal], ...] = ()
    asks: tuple[tuple[Decimal, Decimal], ...] = ()
    book_first: int = 0
    book_id: int = 0
    folded: tuple[str, ...] = ()


@message
class CandleUpdate(Message):
    symbol: str
    candles: dict[str, dict[str, Any]]  # interval -> the open candle


@message
class TradePrints(Message):
    """Prints for the public tape, in order: the market's trades and the users' fills, anonymised.

    Ids increase per symbol and the tape's time never goes back (app/domain/tape.py).
    """

    symbol: str
    prints: tuple[Print, ...]


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

    events: list[UserEvent]


# --- the codec -------------------------------------------------------------------------------

def _default(obj: object) -> Any:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise CodecError("non-finite Decimal in a message")
        return format(obj, "f")
    if isinstance(obj, enum.Enum):
        return obj.value
    names = _FIELD_NAMES.get(type(obj))
    if names is None and dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    if names is not None:
        data = {name: getattr(obj, name) for name in names}
        if "trace" in data and data["trace"] is None:
            del data["trace"]  # untraced: the same bytes as before traces existed
        if isinstance(obj, UserEvent):
            return {"kind": obj.KIND, **data}
        return data
    raise TypeError(f"cannot encode {type(obj).__name__}")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def encode(msg: Message) -> bytes:
    data = {f.name: getattr(msg, f.name) for f in fields(msg)}
    if "trace" in data and data["trace"] is None:
        del data["trace"]
    return json.dumps({"v": CODEC_VERSION, "t": type(msg).__name__, "d": data}, default=_default,
                      separators=(",", ":")).encode()


Convert = Callable[[Any], Any]
_RECORDS: dict[type, Convert] = {}
_BUILDING: dict[type, Convert] = {}
_BUILD_LOCK = threading.RLock()


def _identity(value: Any) -> Any:
    return value


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise CodecError("Decimal fields travel as strings")
    return Decimal(value)


def _converter(hint: Any) -> Convert:
    """How a JSON value becomes a value of type `hint` (built once per type)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Decimal:
        return _decimal
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if isinstance(hint, type) and issubclass(hint, UserEvent):
        return _user_event
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        inner = _converter(members[0]) if len(members) == 1 else _identity
        if inner is _identity:
            return _identity
        return lambda value: None if value is None else inner(value)
    if origin in (list, tuple) and args:
        item = _converter(args[0])
        made: type = list if origin is list else tuple

        def sequence(value: Any) -> Any:
            if not isinstance(value, list):
                raise CodecError("a sequence travels as a JSON list")
            return made(item(v) for v in value) if item is not _identity else made(value)
        return sequence
    return _identity


def _record(cls: type) -> Convert:
    """Decoder of a dataclass (a message, a record inside one) from its JSON object.

    Built once, under a lock: actors decode on threads of their own, and a decoder another thread
    could see before its fields are filled in refuses every field ("unknown field"). Decoders under
    construction are only in `_BUILDING` (a record may, indirectly, contain itself) and join
    `_RECORDS` together when the outermost one is complete."""
    found = _RECORDS.get(cls)
    if found is not None:
        return found
    with _BUILD_LOCK:
        found = _RECORDS.get(cls) or _BUILDING.get(cls)
        if found is not None:
            return found
        convert: dict[str, Convert] = {}

        def record(value: Any) -> Any:
            if not isinstance(value, dict):
                raise CodecError(f"{cls.__name__} travels as a JSON object")
            try:
                return cls(**{k: convert[k](v) for k, v in value.items()})
            except KeyError as exc:
                raise CodecError(f"unknown field {exc} of {cls.__name__}") from None

        outermost = not _BUILDING
        _BUILDING[cls] = record  # before the fields: a record may (indirectly) contain itself
        try:
            hints = typing.get_type_hints(cls)
            convert.update((f.name, _converter(hints[f.name])) for f in fields(cls))
            if outermost:
                _RECORDS.update(_BUILDING)
        finally:
            if outermost:
                _BUILDING.clear()
        return record


def _user_event(value: Any) -> UserEvent:
    if not isinstance(value, dict):
        raise CodecError("a user event travels as a JSON object")
    data = dict(value)
    cls = USER_EVENTS.get(data.pop("kind", None))
    if cls is None:
        raise CodecError(f"unknown user event {value.get('kind')!r}")
    return typing.cast(UserEvent, _record(cls)(data))


def decode(raw: bytes | str) -> Message:
    try:
        env = json.loads(raw)
        version, name, data = env["v"], env["t"], env["d"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CodecError(f"malformed envelope: {exc}") from exc
    if version not in READS_VERSIONS:
        raise CodecError(f"unsupported codec version {version!r}")
    cls = REGISTRY.get(name)
    if cls is None:
        raise CodecError(f"unknown message type {name!r}")
    try:
        if version == 1 and name in _FROM_V1:
            data = _FROM_V1[name](data)
        return typing.cast(Message, _record(cls)(data))
    except CodecError as exc:
        raise CodecError(f"bad {name}: {exc}") from exc
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise CodecError(f"bad {name}: {exc}") from exc


# --- version 1 -------------------------------------------------------------------------------

_ORDER_REQUEST = ("client_order_id", "symbol", "side", "type", "quantity", "quote_order_qty", "price",
                  "time_in_force", "stop_price", "trailing_delta")
_OCO_REQUEST = ("list_client_order_id", "symbol", "side", "quantity", "price", "stop_price", "tp_stop_price",
                "stop_limit_price", "stop_limit_time_in_force", "trailing_delta")


def _command_v1(key: str, moved: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A v1 command carried the request's fields flat; v2 nests them under `key`."""
    def upgrade(data: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in data.items() if k not in moved}
        out[key] = {k: data[k] for k in moved if k in data}
        return out
    return upgrade


def _event_v1(event: dict[str, Any]) -> dict[str, Any]:
    """A v1 user event (`{user_id, kind, cause, data}`, data rendered as the frame shows it) as a v2 one."""
    kind, d = event["kind"], event["data"]
    out: dict[str, Any] = {"kind": kind, "user_id": event["user_id"], "cause": event.get("cause", "")}
    if kind == "ORDER_UPDATE":
        out["order"] = {
            "id": d["orderId"], "client_order_id": d["clientOrderId"], "symbol": d["symbol"], "side": d["side"],
            "type": d["type"], "time_in_force": d["timeInForce"], "price": d["price"], "quantity": d["origQty"],
            "quote_order_qty": d["quoteOrderQty"], "executed_qty": d["executedQty"],
            "cumm_quote_qty": d["cummulativeQuoteQty"], "status": d["status"], "reject_reason": d["rejectReason"],
            "stop_price": d["stopPrice"], "trailing_delta": d["trailingDelta"], "triggered": d["triggered"],
            "order_list_id": None if d["orderListId"] == -1 else d["orderListId"], "created_at": d["time"],
            "updated_at": d["updateTime"], "version": d["version"]}
        out["fills"] = [{"seq": f["seq"], "price": f["price"], "qty": f["qty"], "commission": f["commission"],
                         "commission_asset": f["commissionAsset"]} for f in d["fills"]]
    elif kind == "BALANCE_UPDATE":
        out["balances"] = [{"asset": b["asset"], "free": b["free"], "locked": b["locked"]} for b in d["balances"]]
    elif kind == "POSITION_UPDATE":
        out["positions"] = [{"asset": p["asset"], "quantity": p["quantity"], "avg_entry": p["avgEntryPrice"],
                             "realized_pnl": p["realizedPnl"]} for p in d["positions"]]
    elif kind == "CFD_UPDATE":
        out.update(event=d["event"], account_balance=d["account"]["balance"])
        for key, name in (("cmdId", "cmd_id"), ("exitPrice", "exit_price"), ("pnl", "pnl"), ("fee", "fee"),
                          ("amount", "amount"), ("payout", "payout"), ("balance", "balance"), ("reason", "reason"),
                          ("field", "field"), ("code", "code")):
            if key in d:
                out[name] = d[key]
        p = d.get("position")
        if p is not None:
            out["position"] = {
                "id": p["id"], "user_id": event["user_id"], "symbol": p["symbol"], "direction": p["direction"],
                "margin": p["margin"], "leverage": p["leverage"], "entry": p["entryPrice"], "qty": p["quantity"],
                "liquidation": p["liquidationPrice"], "stop_loss": p["stopLossPrice"],
                "take_profit": p["takeProfitPrice"], "opened_at": p["openedAt"]}
    else:
        raise CodecError(f"unknown v1 user event {kind!r}")
    return out


_FROM_V1: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "PlaceOrder": _command_v1("order", _ORDER_REQUEST),
    "PlaceOco": _command_v1("oco", _OCO_REQUEST),
    "EventBatch": lambda data: {**data, "events": [_event_v1(e) for e in data["events"]]},
}


def traces_of(msg: Message | None) -> list[dict[str, int]]:
    """The hop traces a message carries (its own, or its traced order updates'); empty when untraced."""
    trace = getattr(msg, "trace", None)
    if trace is not None:
        return [trace]
    if isinstance(msg, EventBatch):
        return [t for e in msg.events if (t := getattr(e, "trace", None)) is not None]
    return []

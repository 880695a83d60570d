"""Every message survives the wire exactly, Decimals included."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import fields, is_dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.oco import OcoRequest
from app.domain.orders import OrderRequest, OrderType, Side, TimeInForce
from app.domain.tape import Print
from app.messages import (
    CODEC_VERSION,
    REGISTRY,
    CancelOrder,
    CandleUpdate,
    CfdRequest,
    CodecError,
    EventBatch,
    MarketStatus,
    Message,
    PlaceOco,
    PlaceOrder,
    PriceTick,
    ReplaceOrder,
    Reply,
    RequestCancel,
    RequestCancelAll,
    ResetAccount,
    SubmitOrder,
    TradePrints,
    decode,
    encode,
    traces_of,
)
from tests.support.helpers import EVERY_EVENT, SPARSE_EVENTS

amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e15"), places=8, allow_nan=False,
                      allow_infinity=False)


@given(qty=amounts, price=st.none() | amounts, uid=st.integers(1, 2**53))
def test_place_order_round_trips_exactly(qty: Decimal, price: Decimal | None, uid: int) -> None:
    msg = PlaceOrder(msg_id="m", reply_to="r", user_id=uid, order=OrderRequest(
        client_order_id="c-1", symbol="BTCUSDT", side=Side.BUY, type=OrderType.LIMIT, quantity=qty, price=price))
    back = decode(encode(msg))
    assert back == msg and isinstance(back, PlaceOrder) and back.order.quantity == qty
    assert type(back.order.side) is Side and type(back.order.type) is OrderType


MANY = Decimal("12345678901234567890.123456789012345678")  # 38 significant digits, the context's precision
TINY = Decimal("0.00000001")

# One representative of every registered message type, with every optional field set...
FULL: list[Message] = [
    PlaceOrder(msg_id="m1", reply_to="troupe:reply:node-a", user_id=2**53, order=OrderRequest(
        client_order_id="c-1", symbol="BTCUSDT", side=Side.BUY, type=OrderType.STOP_LOSS_LIMIT, quantity=MANY,
        quote_order_qty=TINY, price=Decimal("67250.01"), time_in_force=TimeInForce.GTC,
        stop_price=Decimal("67000.00000000"), trailing_delta=250)),
    PlaceOco(msg_id="m2", reply_to="r", user_id=7, oco=OcoRequest(
        list_client_order_id="l-1", symbol="ETHUSDT", side=Side.SELL, quantity=Decimal("0.0001"), price=MANY,
        stop_price=TINY, tp_stop_price=Decimal("3600"), stop_limit_price=Decimal("3399.99"),
        stop_limit_time_in_force=TimeInForce.FOK, trailing_delta=10)),
    RequestCancel(msg_id="m3", reply_to="r", user_id=1, order_id=2**40),
    ReplaceOrder(msg_id="m3r", reply_to="r", user_id=1, order_id=2**40, client_order_id="amend-1",
                 price=Decimal("67250.01"), quantity=None, stop_price=TINY),
    RequestCancelAll(msg_id="m3a", reply_to="r", user_id=1, symbol=None),
    Reply(msg_id="m4", correlation_id="m1", answer="REJECTED",
          body={"orderId": 5, "price": "67250.01", "fills": [{"qty": "0.00000001"}], "stopPrice": None},
          kind="FILTER_FAILURE", code="FILTER_FAILURE", message="Filter failure: LOT_SIZE", field="quantity"),
    CfdRequest(msg_id="m5", reply_to="r", user_id=3, cmd_id="u3:open-1", action="OPEN",
               params={"symbol": "BTCUSDT", "side": "LONG", "margin": "100.12345678", "leverage": 20, "sl": None}),
    ResetAccount(msg_id="m5r", reply_to="r", user_id=3, request_key="u3:start-over"),
    SubmitOrder(msg_id="m6", order_id=9, user_id=4, trace={"http_accepted": 10**18, "gateway_read": 10**18 + 7}),
    CancelOrder(msg_id="m7", order_id=9, user_id=4),
    PriceTick(msg_id="m8", symbol="BTCUSDT", price=MANY, bid=TINY, ask=Decimal("67250.02"), ts=1_700_000_000_000,
              seq=2**62, bids=((TINY, MANY),), asks=((Decimal("67250.02"), Decimal("0.4")),), book_first=7,
              book_id=2**40, folded=("12:1", "12:2")),
    TradePrints(msg_id="m12", symbol="BTCUSDT", prints=(Print(2**40, MANY, TINY, True, 1_700_000_000_000),
                                                         Print(2**40 + 1, TINY, MANY, False, 1_700_000_000_001))),
    CandleUpdate(msg_id="m9", symbol="BTCUSDT", candles={"1m": {"t": 60_000, "o": "1", "h": "2", "l": "0.5",
                                                                "c": "1.5", "v": "12.00000001"}}),
    MarketStatus(msg_id="m10", symbol="SOLUSDT", stale=True, since=1_700_000_000_000),
    EventBatch(msg_id="m11", events=list(EVERY_EVENT)),
]
# ...and of every type with optional fields, those fields left out (None).
SPARSE: list[Message] = [
    PlaceOrder(msg_id="s1", reply_to="r", user_id=1, order=OrderRequest(
        client_order_id="c", symbol="BTCUSDT", side=Side.SELL, type=OrderType.MARKET)),
    PlaceOco(msg_id="s2", reply_to="r", user_id=1, oco=OcoRequest(
        list_client_order_id="l", symbol="BTCUSDT", side=Side.BUY, quantity=TINY, price=Decimal("1"))),
    Reply(msg_id="s3", correlation_id="c", answer="ACCEPTED"),
    MarketStatus(msg_id="s4", symbol="SOLUSDT", stale=False, since=0),
    EventBatch(msg_id="s5", events=[]),
    EventBatch(msg_id="s6", events=list(SPARSE_EVENTS)),
]


def _same(sent: object, got: object, where: str) -> None:
    """Equal, of the same type, and for Decimals every digit and the exponent, all the way down."""
    assert type(got) is type(sent), where
    if isinstance(sent, Decimal):
        assert isinstance(got, Decimal) and got.as_tuple() == sent.as_tuple(), where
    elif is_dataclass(sent):
        for f in fields(sent):
            _same(getattr(sent, f.name), getattr(got, f.name), f"{where}.{f.name}")
    elif isinstance(sent, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(sent), where
        for i, (a, b) in enumerate(zip(sent, got, strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert got == sent, where


def test_every_registered_type_has_a_representative() -> None:
    assert {type(m).__name__ for m in FULL} == set(REGISTRY)
    assert all(REGISTRY[type(m).__name__] is type(m) for m in FULL + SPARSE)


@pytest.mark.parametrize("msg", FULL + SPARSE, ids=lambda m: f"{type(m).__name__}-{m.msg_id}")
def test_every_message_type_round_trips_exactly(msg: Message) -> None:
    raw = encode(msg)
    back = decode(raw)
    assert type(back) is type(msg)
    assert back == msg
    _same(msg, back, type(msg).__name__)  # equal is not enough: types, every digit and exponent survive
    assert encode(back) == raw
    assert json.loads(raw)["t"] == type(msg).__name__ and json.loads(raw)["v"] == CODEC_VERSION == 2


def test_decimals_travel_as_plain_strings_never_numbers() -> None:
    data = json.loads(encode(FULL[0]))["d"]["order"]
    assert data["quantity"] == "12345678901234567890.123456789012345678"
    assert data["quote_order_qty"] == "0.00000001"
    assert data["stop_price"] == "67000.00000000"
    assert data["time_in_force"] == "GTC" and data["trailing_delta"] == 250 and data["side"] == "BUY"
    sparse = json.loads(encode(SPARSE[0]))["d"]["order"]
    assert sparse["price"] is None and sparse["quantity"] is None
    events = json.loads(encode(FULL[-1]))["d"]["events"]
    assert [e["kind"] for e in events] == ["ORDER_UPDATE", "BALANCE_UPDATE", "POSITION_UPDATE", "CFD_UPDATE"]
    assert events[0]["order"]["price"] == "67250.01" and events[0]["fills"][0]["qty"] == "0.00000001"
    assert events[3]["position"]["direction"] == "LONG" and events[3]["account_balance"] == "1000.5"


def test_tick_and_event_round_trip() -> None:
    tick = PriceTick(msg_id="t", symbol="ETHUSDT", price=Decimal("3480.01"), bid=Decimal("3480"),
                     ask=Decimal("3480.02"), ts=1, seq=2)
    assert decode(encode(tick)) == tick
    event = EventBatch(msg_id="e", events=[EVERY_EVENT[1]])
    assert decode(encode(event)) == event


@pytest.mark.parametrize("raw", [
    b"", b"{}", b'{"v":3,"t":"PriceTick","d":{}}', b'{"v":2,"t":"Nope","d":{}}', b'{"v":1,"t":"Nope","d":{}}',
    b'{"v":2,"t":"PriceTick","d":{"msg_id":"x"}}', b'{"v":1,"t":"PriceTick","d":{"msg_id":"x"}}',
    b'{"v":2,"t":"SubmitOrder","d":{"msg_id":"x","order_id":1,"user_id":1,"evil":1}}',
    b'{"v":2,"t":"EventBatch","d":{"msg_id":"x","events":[{"kind":"NOPE","user_id":1,"cause":"c"}]}}',
    b'{"v":2,"t":"EventBatch","d":{"msg_id":"x","events":[{"user_id":1,"cause":"c","balances":[]}]}}',
    b'{"v":2,"t":"EventBatch","d":{"msg_id":"x","events":[{"kind":"BALANCE_UPDATE","user_id":1,"cause":"c",'
    b'"balances":[{"asset":"BTC","free":1,"locked":"0"}]}]}}',
    b'{"v":2,"t":"PlaceOrder","d":{"msg_id":"x","reply_to":"r","user_id":1,"order":{"client_order_id":"c",'
    b'"symbol":"BTCUSDT","side":"SIDEWAYS","type":"MARKET"}}}',
    b'{"v":1,"t":"EventBatch","d":{"msg_id":"x","events":[{"user_id":1,"kind":"NOPE","data":{}}]}}',
])
def test_malformed_entries_raise_codec_error(raw: bytes) -> None:
    with pytest.raises(CodecError):
        decode(raw)


def test_floats_never_travel() -> None:
    with pytest.raises(CodecError):
        decode(b'{"v":1,"t":"PriceTick","d":{"msg_id":"t","symbol":"X","price":1.5,"bid":"1","ask":"1","ts":1,"seq":1}}')


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_decimals_are_never_encoded(value: Decimal) -> None:
    with pytest.raises(CodecError, match="non-finite"):
        encode(PriceTick(msg_id="t", symbol="X", price=value, bid=Decimal(1), ask=Decimal(1), ts=1, seq=1))


def test_a_trace_travels_only_when_there_is_one() -> None:
    """Untraced messages encode exactly as before traces existed; a traced order update keeps its hops."""
    untraced = SubmitOrder(msg_id="s", order_id=9, user_id=4)
    assert "trace" not in json.loads(encode(untraced))["d"]
    assert decode(encode(untraced)) == untraced
    event = EVERY_EVENT[0]
    assert "trace" not in json.loads(encode(EventBatch(msg_id="e", events=[event])))["d"]["events"][0]
    traced = dataclasses.replace(event, trace={"executor_read": 5})
    back = decode(encode(EventBatch(msg_id="e", events=[traced])))
    assert isinstance(back, EventBatch) and back.events[0].trace == {"executor_read": 5}  # type: ignore[attr-defined]
    assert traces_of(back) == [{"executor_read": 5}] and traces_of(untraced) == []

"""Every message survives the wire exactly, Decimals included."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.messages import REGISTRY, CodecError, EventBatch, PlaceOrder, PriceTick, decode, encode

amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e15"), places=8, allow_nan=False,
                      allow_infinity=False)


@given(qty=amounts, price=st.none() | amounts, uid=st.integers(1, 2**53))
def test_place_order_round_trips_exactly(qty: Decimal, price: Decimal | None, uid: int) -> None:
    msg = PlaceOrder(msg_id="m", reply_to="r", user_id=uid, client_order_id="c-1", symbol="BTCUSDT", side="BUY",
                     type="LIMIT", quantity=qty, price=price)
    back = decode(encode(msg))
    assert back == msg and isinstance(back, PlaceOrder) and back.quantity == qty


def test_all_message_types_are_registered() -> None:
    assert {"PlaceOrder", "RequestCancel", "Reply", "SubmitOrder", "CancelOrder", "PriceTick", "CandleUpdate",
            "EventBatch"} <= set(REGISTRY)


def test_tick_and_event_round_trip() -> None:
    tick = PriceTick(msg_id="t", symbol="ETHUSDT", price=Decimal("3480.01"), bid=Decimal("3480"),
                     ask=Decimal("3480.02"), ts=1, seq=2)
    assert decode(encode(tick)) == tick
    event = EventBatch(msg_id="e", events=[{"user_id": 1, "kind": "ORDER_UPDATE", "data": {"status": "FILLED"}}])
    assert decode(encode(event)) == event


@pytest.mark.parametrize("raw", [b"", b"{}", b'{"v":2,"t":"PriceTick","d":{}}', b'{"v":1,"t":"Nope","d":{}}',
                                 b'{"v":1,"t":"PriceTick","d":{"msg_id":"x"}}',
                                 b'{"v":1,"t":"SubmitOrder","d":{"msg_id":"x","order_id":1,"user_id":1,"evil":1}}'])
def test_malformed_entries_raise_codec_error(raw: bytes) -> None:
    with pytest.raises(CodecError):
        decode(raw)


def test_floats_never_travel() -> None:
    with pytest.raises(CodecError):
        decode(b'{"v":1,"t":"PriceTick","d":{"msg_id":"t","symbol":"X","price":1.5,"bid":"1","ask":"1","ts":1,"seq":1}}')

"""The typed user events: built from domain values, carried exactly by the codec (v2, and v1 entries left
over from before the upgrade), and rendered at the edge into the frames the browser has always been sent."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from app.cfd.inputs import Amend, ClosePosition, Deposit, OpenPosition, rejection
from app.cfd.render import event_json
from app.cfd.rules import CfdError, Direction
from app.domain.oco import OcoRequest
from app.domain.orders import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from app.events import USER_EVENTS, CfdChanged, OrderUpdated, UserEvent, order_fill, order_record
from app.messages import CodecError, EventBatch, PlaceOco, PlaceOrder, decode, encode
from app.money import to_str
from app.render import order_json
from tests.support.cfd import engine, tick
from tests.support.helpers import EVERY_EVENT, SPARSE_EVENTS
from web.ws_render import event_frame

D = Decimal


def old_frame(kind: str, payload: dict[str, Any]) -> str:
    """The frame the code before typed events sent for a rendered event (its `event_frame`, verbatim)."""
    data = dict(payload)
    if "type" in data:
        data["orderType"] = data.pop("type")
    return json.dumps({"type": kind, **data, "ts": data.get("updateTime")}, separators=(",", ":"))


def order_row(**changes: Any) -> SimpleNamespace:
    """A row of the `order` table as the database gives it (strings for enums, Decimals for amounts)."""
    fields = {"id": 41, "client_order_id": "web-abc", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
              "time_in_force": "GTC", "price": D("67250.01000000"), "quantity": D("0.50000000"),
              "quote_order_qty": None, "executed_qty": D("0.25"), "cumm_quote_qty": D("16812.5025"),
              "status": "PARTIALLY_FILLED", "reject_reason": None, "stop_price": None, "trailing_delta": None,
              "triggered": 0, "order_list_id": None, "created_at": 1_700_000_000_000,
              "updated_at": 1_700_000_000_005, "version": 2}
    return SimpleNamespace(**{**fields, **changes})


def fill_row(seq: int) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, price=D("67250.01"), qty=D("0.12500000"), commission=D("0.000125"),
                           commission_asset="BTC", quote_qty=D(1), net_base=D(1), net_quote=D(1))


def test_the_set_of_user_events_is_closed_and_named_as_the_frames_are() -> None:
    assert set(USER_EVENTS) == {"ORDER_UPDATE", "BALANCE_UPDATE", "POSITION_UPDATE", "CFD_UPDATE"}
    assert {type(e) for e in EVERY_EVENT} == set(USER_EVENTS.values())
    assert all(issubclass(cls, UserEvent) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
               for cls in USER_EVENTS.values())


@pytest.mark.parametrize("event", EVERY_EVENT + SPARSE_EVENTS, ids=lambda e: f"{e.KIND}-{e.cause}")
def test_each_event_survives_the_codec_and_renders_the_same_frame_after_it(event: UserEvent) -> None:
    batch = EventBatch(msg_id="e", events=[event])
    back = decode(encode(batch))
    assert isinstance(back, EventBatch) and back == batch
    assert event_frame(back.events[0]) == event_frame(event)


def test_an_order_update_frame_is_the_snapshot_order_with_orderType_and_ts() -> None:
    row, fills = order_row(), [fill_row(1), fill_row(2)]
    event = OrderUpdated(7, "41:2", order_record(row), tuple(order_fill(f) for f in fills))
    rest = order_json(row, fills)  # what GET /api/trading/orders and the SNAPSHOT show
    assert event_frame(event) == old_frame("ORDER_UPDATE", rest)
    frame = json.loads(event_frame(event))
    assert frame["orderType"] == "LIMIT" and frame["ts"] == 1_700_000_000_005 and frame["price"] == "67250.01"
    assert frame["fills"][0] == {"seq": 1, "price": "67250.01", "qty": "0.125", "commission": "0.000125",
                                 "commissionAsset": "BTC"}
    assert frame["triggered"] is False and frame["orderListId"] == -1 and frame["avgPrice"] == "67250.01"


def test_the_frames_are_exactly_those_sent_before_typed_events() -> None:
    """Byte for byte, key order included: the old code's rendered data through its frame function."""
    order, balances, positions, cfd = EVERY_EVENT
    assert event_frame(balances) == old_frame("BALANCE_UPDATE", {"balances": [
        {"asset": "BTC", "free": "0.0000001", "locked": "100"},
        {"asset": "USDT", "free": "12345678901234567890.123456789012345678", "locked": "0"}]})
    assert event_frame(positions) == old_frame("POSITION_UPDATE", {"positions": [
        {"asset": "BTC", "quantity": "0.5", "avgEntryPrice": "67250.01", "realizedPnl": "-3.2"}]})
    frame = json.loads(event_frame(order))
    assert list(frame)[:3] == ["type", "orderId", "clientOrderId"] and list(frame)[-3:] == ["version", "orderType",
                                                                                           "ts"]
    assert frame["type"] == "ORDER_UPDATE" and frame["orderType"] == "STOP_LOSS_LIMIT" and frame["side"] == "SELL"
    assert frame["stopPrice"] == "67000" and frame["cummulativeQuoteQty"] == "12345678901234567890.123456789012345678"
    assert json.loads(event_frame(cfd))["position"]["direction"] == "LONG"


def engine_events() -> list[Any]:
    """One engine event of every kind the desk announces."""
    e = engine()
    out = [*e.apply(1, Deposit("u7:d", 7, D(1000))), *e.apply(2, tick("100", "100.5"))]
    out += e.apply(3, OpenPosition("u7:o", 7, "BTCUSDT", Direction.LONG, D(100), D(10), stop_loss=D(95)))
    pid = out[-1].data["position"].id
    out += e.apply(4, Amend("u7:a", 7, pid, take_profit=D(120), clear_stop_loss=True))
    out += e.apply(5, ClosePosition("u7:c", 7, pid))
    out += e.apply(6, OpenPosition("u7:o2", 7, "BTCUSDT", Direction.SHORT, D(50), D(2), stop_loss=D(101)))
    out += e.apply(7, tick("101", "101.5", ts=2))
    out.append(rejection(OpenPosition("u7:x", 7, "BTCUSDT", Direction.LONG, D(10**9), D(1)),
                         CfdError("not enough margin", "margin", "NO_FUNDS")))
    assert [ev.kind for ev in out] == ["TRANSFERRED", "OPENED", "UPDATED", "CLOSED", "OPENED", "STOP_LOSS",
                                       "REJECTED"]
    return out


@pytest.mark.parametrize("ev", engine_events(), ids=lambda ev: ev.kind)
def test_a_cfd_event_renders_as_the_engine_event_did_before(ev: Any) -> None:
    """The old frame's data: the engine event's JSON in its own key order, its kind, the account balance."""
    change = CfdChanged.of(ev, "cfd:0:9", D("899.60"))
    back = decode(encode(EventBatch(msg_id="e", events=[change])))
    assert isinstance(back, EventBatch) and back.events == [change]
    before = {**event_json(ev), "event": ev.kind, "account": {"balance": to_str(D("899.60"))}}
    assert event_frame(change) == old_frame("CFD_UPDATE", before)


# --- entries written by the code before typed events (codec v1) --------------------------------------

def v1(name: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"v": 1, "t": name, "d": data}, separators=(",", ":")).encode()


def test_a_v1_event_batch_left_in_the_outbox_decodes_to_typed_events_and_the_same_frames() -> None:
    order = {**order_json(order_row(order_list_id=40, stop_price=D("66000"), triggered=1)),
             "fills": [{"seq": 1, "price": "67250.01", "qty": "0.125", "commission": "0.000125",
                        "commissionAsset": "BTC"}]}
    position = event_json(engine_events()[1])["position"]
    events = [
        {"user_id": 7, "kind": "ORDER_UPDATE", "cause": "41:2", "data": order},
        {"user_id": 7, "kind": "BALANCE_UPDATE", "cause": "41:2",
         "data": {"balances": [{"asset": "BTC", "free": "0.25", "locked": "0"}]}},
        {"user_id": 7, "kind": "POSITION_UPDATE", "cause": "41:2",
         "data": {"positions": [{"asset": "BTC", "quantity": "0.25", "avgEntryPrice": "67250.01",
                                 "realizedPnl": "0"}]}},
        {"user_id": 7, "kind": "CFD_UPDATE", "cause": "cfd:0:3",
         "data": {"cmdId": "u7:o", "position": position, "fee": "0.4", "balance": "899.6", "event": "OPENED",
                  "account": {"balance": "899.6"}}},
        {"user_id": 7, "kind": "CFD_UPDATE", "cause": "cfd:0:refused:m",
         "data": {"cmdId": "u7:x", "reason": "no", "field": None, "code": "NO_FUNDS", "event": "REJECTED",
                  "account": {"balance": "0"}}},
    ]
    back = decode(v1("EventBatch", {"msg_id": "events:ORDER_UPDATE:41:2", "events": events}))
    assert isinstance(back, EventBatch) and back.msg_id == "events:ORDER_UPDATE:41:2"
    assert [type(e).__name__ for e in back.events] == ["OrderUpdated", "BalancesChanged", "PositionsChanged",
                                                       "CfdChanged", "CfdChanged"]
    first = back.events[0]
    assert isinstance(first, OrderUpdated) and first.order.side is Side.BUY and first.order.order_list_id == 40
    assert first.order.status is OrderStatus.PARTIALLY_FILLED and first.fills[0].qty == D("0.125")
    for sent, got in zip(events, back.events, strict=True):
        assert event_frame(got) == old_frame(sent["kind"], sent["data"])
    assert encode(back) == encode(decode(encode(back))), "re-encoded as v2, stable"


def test_v1_commands_decode_to_the_typed_request() -> None:
    order = decode(v1("PlaceOrder", {
        "msg_id": "m", "reply_to": "r", "user_id": 3, "client_order_id": "c", "symbol": "BTCUSDT", "side": "SELL",
        "type": "STOP_LOSS_LIMIT", "quantity": "0.5", "quote_order_qty": None, "price": "60000",
        "time_in_force": "GTC", "stop_price": "61000", "trailing_delta": None}))
    assert order == PlaceOrder(msg_id="m", reply_to="r", user_id=3, order=OrderRequest(
        "c", "BTCUSDT", Side.SELL, OrderType.STOP_LOSS_LIMIT, D("0.5"), None, D("60000"), TimeInForce.GTC,
        D("61000"), None))
    oco = decode(v1("PlaceOco", {"msg_id": "m", "reply_to": "r", "user_id": 3, "list_client_order_id": "l",
                                 "symbol": "ETHUSDT", "side": "BUY", "quantity": "1", "price": "3000",
                                 "stop_limit_time_in_force": "FOK", "trailing_delta": 100}))
    assert oco == PlaceOco(msg_id="m", reply_to="r", user_id=3, oco=OcoRequest(
        "l", "ETHUSDT", Side.BUY, D(1), D(3000), stop_limit_time_in_force=TimeInForce.FOK, trailing_delta=100))
    with pytest.raises(CodecError):
        decode(v1("PlaceOrder", {"msg_id": "m", "reply_to": "r", "user_id": 3, "client_order_id": "c",
                                 "symbol": "BTCUSDT", "side": "UP", "type": "MARKET"}))

"""Maker and taker fees, and resting orders filling against what the published book offers."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from app.domain import execution
from app.domain.book import Level, Quote
from app.domain.execution import Fees, OrderView
from app.domain.ledger import house_of_shard
from app.domain.orders import OrderStatus, OrderType, Side, TimeInForce
from app.domain.symbols import spec_for

D = Decimal
BTC = spec_for("BTCUSDT")
FEES = Fees(maker=D("0.0002"), taker=D("0.001"))
HOUSE = house_of_shard(0)
RICH = {"USDT": D("1000000"), "BTC": D("100")}
QUOTE = Quote(D("67000.00"), D("67001.00"), 1)


def view(type_: OrderType, side: Side = Side.BUY, qty: str = "1", price: str | None = None) -> OrderView:
    tif = TimeInForce.GTC if type_ is OrderType.LIMIT else None
    return OrderView(1, 7, "BTCUSDT", side, type_, tif, D(qty), None, D(price) if price else None,
                     OrderStatus.PENDING)


def rested(order: OrderView, out: execution.Outcome) -> OrderView:
    return replace(order, status=out.status, executed_qty=out.executed_qty, cumm_quote_qty=out.cumm_quote_qty,
                   locked=out.locked, fill_count=len(out.fills))


def test_a_market_order_pays_the_taker_fee() -> None:
    out = execution.place(view(OrderType.MARKET, qty="0.1"), QUOTE, BTC, RICH, FEES, HOUSE)
    (fill,) = out.fills
    assert fill.commission == D("0.0001") and not fill.maker  # 0.1 BTC × 0.001


def test_a_limit_order_pays_taker_on_what_crosses_when_placed_and_maker_once_it_rests() -> None:
    placed = execution.place(view(OrderType.LIMIT, side=Side.SELL, qty="1", price="67000.00"), QUOTE, BTC, RICH,
                             FEES, HOUSE)
    (crossing,) = placed.fills  # the bid at 67000.00 holds 0.4
    assert crossing.qty == D("0.40000") and not crossing.maker
    assert crossing.commission == BTC.level_qty * D("67000.00") * D("0.001")
    order = rested(view(OrderType.LIMIT, side=Side.SELL, qty="1", price="67000.00"), placed)
    later = execution.on_quote(order, Quote(D("67010.00"), D("67011.00"), 2), BTC, FEES, HOUSE)
    assert later is not None
    (resting,) = later.fills
    assert resting.maker and resting.price == D("67000.00")
    assert resting.commission == resting.qty * D("67000.00") * D("0.0002")


def test_a_resting_order_fills_against_what_the_published_book_still_offers() -> None:
    order = rested(view(OrderType.LIMIT, qty="1", price="67000.00"),
                   execution.place(view(OrderType.LIMIT, qty="1", price="67000.00"),
                                   Quote(D("67010.00"), D("67011.00"), 1), BTC, RICH, FEES, HOUSE))
    assert order.status is OrderStatus.NEW
    thin = Quote(D("66990.00"), D("66999.00"), 2, bids=(Level(D("66990.00"), D("1")),),
                 asks=(Level(D("66999.00"), D("0.05")), Level(D("66999.50"), D("2"))))
    out = execution.on_quote(order, thin, BTC, FEES, HOUSE)
    assert out is not None and out.executed_qty == D("0.05"), "only the best level's size, at the order's price"
    assert out.fills[0].price == D("67000.00") and out.status is OrderStatus.PARTIALLY_FILLED
    empty = Quote(D("66990.00"), D("66999.00"), 3, bids=(Level(D("66990.00"), D("1")),), asks=())
    assert not execution.crosses(order, empty) and execution.on_quote(order, empty, BTC, FEES, HOUSE) is None, \
        "a book with no asks left fills nothing"


def test_flat_fees_are_one_rate_for_both() -> None:
    assert Fees.flat(D("0.001")) == Fees(D("0.001"), D("0.001"))

"""The Binance-compatible API's JSON: orders, fills, trades, the account and market data in Binance's
field names, from the same rows and typed values `app/render.py` renders for Troupe's own API.
Amounts are plain decimal text (`app.money.to_str`); ids and times are numbers, as Binance's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from app.domain.candles import Candle
from app.domain.orders import OrderStatus, OrderType, Side
from app.domain.symbols import SymbolSpec
from app.events import OrderRecord, order_record
from app.money import ZERO, to_str

# Troupe's statuses Binance has no word for: accepted and durable, or being reconciled, is "NEW" there.
_STATUS = {OrderStatus.PENDING: "NEW", OrderStatus.UNKNOWN: "NEW"}
ORDER_TYPES = [t.value for t in OrderType]
STP = "NONE"


def status(value: OrderStatus) -> str:
    return _STATUS.get(value, value.value)


def _record(order: OrderRecord | Any) -> OrderRecord:
    return order if isinstance(order, OrderRecord) else order_record(order)


def _amount(value: Decimal | None) -> str:
    return to_str(value if value is not None else ZERO)


def working(o: OrderRecord) -> bool:
    """On the book (Binance's `isWorking`): open, and a stop order only once triggered."""
    return o.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED) and (
        o.type not in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT,
                       OrderType.TAKE_PROFIT_LIMIT) or o.triggered)


def order_json(order: OrderRecord | Any) -> dict[str, Any]:
    """GET /api/v3/order, openOrders, allOrders."""
    o = _record(order)
    return {
        "symbol": o.symbol, "orderId": o.id, "orderListId": o.order_list_id if o.order_list_id is not None else -1,
        "clientOrderId": o.client_order_id, "price": _amount(o.price), "origQty": _amount(o.quantity),
        "executedQty": to_str(o.executed_qty), "cummulativeQuoteQty": to_str(o.cumm_quote_qty),
        "status": status(o.status), "timeInForce": o.time_in_force.value if o.time_in_force else "GTC",
        "type": o.type.value, "side": o.side.value, "stopPrice": _amount(o.stop_price), "icebergQty": "0",
        "time": o.created_at, "updateTime": o.updated_at, "isWorking": working(o), "workingTime": o.created_at,
        "origQuoteOrderQty": _amount(o.quote_order_qty), "selfTradePreventionMode": STP,
        **({"trailingDelta": o.trailing_delta} if o.trailing_delta is not None else {}),
    }


def fill_json(f: Any, asset_fallback: str = "") -> dict[str, Any]:
    """One entry of a FULL answer's `fills`; `tradeId` is the fill row's id (myTrades' `id`)."""
    return {"price": to_str(f.price), "qty": to_str(f.qty), "commission": to_str(f.commission),
            "commissionAsset": f.commission_asset or asset_fallback, "tradeId": f.id}


def ack_json(order: OrderRecord | Any, transact_time: int) -> dict[str, Any]:
    o = _record(order)
    return {"symbol": o.symbol, "orderId": o.id, "orderListId": o.order_list_id if o.order_list_id is not None
            else -1, "clientOrderId": o.client_order_id, "transactTime": transact_time}


def new_order_json(resp_type: str, order: OrderRecord | Any, fills: Iterable[Any], transact_time: int
                   ) -> dict[str, Any]:
    """POST /api/v3/order's answer in the asked-for `newOrderRespType` (ACK, RESULT or FULL)."""
    o = _record(order)
    body = ack_json(o, transact_time)
    if resp_type == "ACK":
        return body
    body.update({
        "price": _amount(o.price), "origQty": _amount(o.quantity), "executedQty": to_str(o.executed_qty),
        "origQuoteOrderQty": _amount(o.quote_order_qty), "cummulativeQuoteQty": to_str(o.cumm_quote_qty),
        "status": status(o.status), "timeInForce": o.time_in_force.value if o.time_in_force else "GTC",
        "type": o.type.value, "side": o.side.value, "workingTime": o.created_at, "selfTradePreventionMode": STP,
        **({"stopPrice": to_str(o.stop_price)} if o.stop_price is not None else {}),
    })
    if resp_type == "FULL":
        body["fills"] = [fill_json(f) for f in fills]
    return body


def cancel_json(order: OrderRecord | Any, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
    """DELETE /api/v3/order's answer: the order as the cancel left it."""
    o = _record(order)
    return {"symbol": o.symbol, "origClientOrderId": o.client_order_id, "orderId": o.id,
            "orderListId": o.order_list_id if o.order_list_id is not None else -1,
            "clientOrderId": cancel_client_id, "transactTime": transact_time, "price": _amount(o.price),
            "origQty": _amount(o.quantity), "executedQty": to_str(o.executed_qty),
            "origQuoteOrderQty": _amount(o.quote_order_qty), "cummulativeQuoteQty": to_str(o.cumm_quote_qty),
            "status": status(o.status), "timeInForce": o.time_in_force.value if o.time_in_force else "GTC",
            "type": o.type.value, "side": o.side.value, "selfTradePreventionMode": STP}


def trade_json(f: Any, order: Any) -> dict[str, Any]:
    """GET /api/v3/myTrades: one fill of the user's (Troupe's orders always take liquidity)."""
    return {"symbol": order.symbol, "id": f.id, "orderId": order.id,
            "orderListId": order.order_list_id if order.order_list_id is not None else -1,
            "price": to_str(f.price), "qty": to_str(f.qty), "quoteQty": to_str(f.quote_qty),
            "commission": to_str(f.commission), "commissionAsset": f.commission_asset, "time": f.created_at,
            "isBuyer": order.side == Side.BUY.value, "isMaker": False, "isBestMatch": True}


def account_json(user_id: int, balances: Iterable[Mapping[str, str]], fee_rate: Decimal, can_trade: bool,
                 now: int) -> dict[str, Any]:
    bps = int(fee_rate * 10_000)
    rate = to_str(fee_rate)
    return {"makerCommission": bps, "takerCommission": bps, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": rate, "taker": rate, "buyer": "0", "seller": "0"},
            "canTrade": can_trade, "canWithdraw": False, "canDeposit": False, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now, "accountType": "SPOT",
            "balances": [{"asset": b["asset"], "free": b["free"], "locked": b["locked"]} for b in balances],
            "permissions": ["SPOT"], "uid": user_id}


def precision(step: Decimal) -> int:
    """The number of decimals of a step or tick (0.001 -> 3)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 8


def symbol_json(spec: SymbolSpec) -> dict[str, Any]:
    """One symbol of exchangeInfo, with the filters Troupe enforces (app/domain/symbols.py)."""
    return {
        "symbol": spec.symbol, "status": "TRADING", "baseAsset": spec.base, "baseAssetPrecision": 8,
        "quoteAsset": spec.quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8, "orderTypes": ORDER_TYPES, "icebergAllowed": False, "ocoAllowed": True,
        "otoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "amendAllowed": False, "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": to_str(spec.min_price), "maxPrice": to_str(spec.max_price),
             "tickSize": to_str(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": to_str(spec.min_qty), "maxQty": to_str(spec.max_qty),
             "stepSize": to_str(spec.step_size)},
            {"filterType": "NOTIONAL", "minNotional": to_str(spec.min_notional), "applyMinToMarket": True,
             "maxNotional": "9000000000", "applyMaxToMarket": False, "avgPriceMins": 0},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": STP,
        "allowedSelfTradePreventionModes": [STP],
    }


def exchange_info_json(specs: Iterable[SymbolSpec], weight_limit: int, now: int) -> dict[str, Any]:
    return {"timezone": "UTC", "serverTime": now,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                            "limit": weight_limit}],
            "exchangeFilters": [], "symbols": [symbol_json(s) for s in specs]}


def public_trade_json(print_: dict[str, Any]) -> dict[str, Any]:
    """One print of the tape (as app/market_data.trades reads it) as GET /api/v3/trades shows it."""
    return {"id": print_["id"], "price": print_["price"], "qty": print_["qty"], "quoteQty": print_["quoteQty"],
            "time": print_["time"], "isBuyerMaker": print_["isBuyerMaker"], "isBestMatch": True}


def agg_trade_json(print_: dict[str, Any]) -> dict[str, Any]:
    """One print as an aggregate trade of its own (GET /api/v3/aggTrades)."""
    return {"a": print_["id"], "p": print_["price"], "q": print_["qty"], "f": print_["id"], "l": print_["id"],
            "T": print_["time"], "m": print_["isBuyerMaker"], "M": True}


def kline_json(c: Candle, interval_ms: int) -> list[Any]:
    """One kline; Troupe's candles know no quote volume or trade count (0)."""
    return [c.t, to_str(c.o), to_str(c.h), to_str(c.l), to_str(c.c), to_str(c.v), c.t + interval_ms - 1,
            "0", 0, "0", "0", "0"]


def ticker_24h_json(symbol: str, last: Decimal, bid: Decimal, ask: Decimal, hours: list[Candle], now: int
                    ) -> dict[str, Any]:
    """ticker/24hr from the last 24 hourly candles and the latest tick."""
    opened = hours[0].o if hours else last
    change = last - opened
    pct = (change / opened * 100).quantize(Decimal("0.001")) if opened else ZERO
    volume = sum((c.v for c in hours), ZERO)
    quote_volume = sum((c.v * c.c for c in hours), ZERO)
    weighted = (quote_volume / volume).quantize(Decimal("0.00000001")) if volume else last
    open_time = hours[0].t if hours else now
    return {"symbol": symbol, "priceChange": to_str(change), "priceChangePercent": to_str(pct),
            "weightedAvgPrice": to_str(weighted), "prevClosePrice": to_str(opened), "lastPrice": to_str(last),
            "lastQty": "0", "bidPrice": to_str(bid), "bidQty": "0", "askPrice": to_str(ask), "askQty": "0",
            "openPrice": to_str(opened), "highPrice": to_str(max((c.h for c in hours), default=last)),
            "lowPrice": to_str(min((c.l for c in hours), default=last)), "volume": to_str(volume),
            "quoteVolume": to_str(quote_volume), "openTime": open_time, "closeTime": now, "firstId": -1,
            "lastId": -1, "count": 0}


def list_client_id(legs: list[Any]) -> str:
    """Troupe names an OCO's legs <listClientOrderId>-tp and -sl."""
    return str(legs[0].client_order_id).rsplit("-", 1)[0]


def list_status_json(legs: list[Any], reports: list[dict[str, Any]] | None, transaction_time: int
                     ) -> dict[str, Any]:
    """An order list (Binance's listStatus shape) with, when given, its `orderReports`."""
    records = [_record(leg) for leg in legs]
    done = all(r.status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)
               for r in records)
    rejected = any(r.status is OrderStatus.REJECTED for r in records)
    body: dict[str, Any] = {
        "orderListId": records[0].order_list_id, "contingencyType": "OCO",
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "REJECT" if rejected else "ALL_DONE" if done else "EXECUTING",
        "listClientOrderId": list_client_id(legs), "transactionTime": transaction_time,
        "symbol": records[0].symbol,
        "orders": [{"symbol": r.symbol, "orderId": r.id, "clientOrderId": r.client_order_id} for r in records]}
    if reports is not None:
        body["orderReports"] = reports
    return body

"""Parameters as Binance reads them: from the query string and a form-encoded body, each once,
then each endpoint's rules (mandatory, not required, legal characters), in Binance's own errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from urllib.parse import parse_qsl

from app.binance_api.errors import (
    CLIENT_ID_RANGE,
    DECIMAL_RANGE,
    INTEGER_RANGE,
    LIST_ID_RANGE,
    OCO_TYPE,
    BinanceError,
    illegal,
    mandatory,
    not_required,
    one_of,
)
from app.domain.oco import OcoRequest
from app.domain.orders import OrderRequest, OrderType, Side, TimeInForce
from app.domain.symbols import SymbolSpec

SIGNING = frozenset({"timestamp", "recvWindow", "signature"})
_DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
_INTEGER = re.compile(r"-?[0-9]{1,20}")
_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
RESP_TYPES = ("ACK", "RESULT", "FULL")
# What POST /api/v3/order reads; documented parameters Troupe has no use for are read and ignored.
ORDER_PARAMS = frozenset({"symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price",
                          "newClientOrderId", "stopPrice", "trailingDelta", "newOrderRespType",
                          "selfTradePreventionMode", "strategyId", "strategyType", "computeCommissionRates"})
OCO_PARAMS = frozenset({"symbol", "listClientOrderId", "side", "quantity", "newOrderRespType",
                        "selfTradePreventionMode"} | {f"{leg}{name}" for leg in ("above", "below") for name in
                                                      ("Type", "Price", "StopPrice", "TrailingDelta", "TimeInForce",
                                                       "StrategyId", "StrategyType")})
CANCEL_REPLACE_PARAMS = ORDER_PARAMS | {"cancelReplaceMode", "cancelOrderId", "cancelOrigClientOrderId",
                                        "cancelNewClientOrderId", "cancelRestrictions", "orderRateLimitExceededMode"}
_LIST_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,32}")
_TAKE_PROFIT_LEGS = (OrderType.LIMIT_MAKER, OrderType.TAKE_PROFIT_LIMIT)
_STOP_LOSS_LEGS = (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
Params = dict[str, str]


def parse(raw_query: str, body: str) -> Params:
    """Every parameter of the query string and the body; one sent twice is refused (-1101)."""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=bool(raw_query)) + \
            parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body))
    except ValueError:
        raise BinanceError(-1100, "Illegal characters found in a parameter.") from None
    params = dict(pairs)
    if len(params) != len(pairs):
        raise BinanceError(-1101, "Duplicate values for a parameter detected.")
    return params


def only(params: Mapping[str, str], allowed: Iterable[str]) -> None:
    """Binance reads the parameters it knows; anything else is -1104."""
    known = set(allowed) | SIGNING
    extra = [k for k in params if k not in known]
    if extra:
        read = len(params) - len(extra)
        raise BinanceError(-1104, f"Not all sent parameters were read; read '{read}' parameter(s) but was sent "
                           f"'{len(params)}'.")


def required(params: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise mandatory(name)


def absent(params: Mapping[str, str], *names: str) -> None:
    for name in names:
        if name in params:
            raise not_required(name)


def decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _DECIMAL.fullmatch(raw):
        raise illegal(name, DECIMAL_RANGE)
    return Decimal(raw)


def integer(params: Mapping[str, str], name: str, default: int | None = None, low: int | None = None,
            high: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not _INTEGER.fullmatch(raw):
        raise illegal(name, INTEGER_RANGE)
    value = int(raw)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")
    return value


def symbol(params: Mapping[str, str], specs: Mapping[str, SymbolSpec], name: str = "symbol") -> str:
    required(params, name)
    value = params[name]
    if value not in specs:
        raise BinanceError(-1121, "Invalid symbol.")
    return value


def client_id(params: Mapping[str, str], name: str) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw == "":
        raise BinanceError(-1118 if name == "newClientOrderId" else -1119,
                           "New client order ID was empty." if name == "newClientOrderId"
                           else "Original client order ID was empty.")
    if not _CLIENT_ID.fullmatch(raw):
        raise illegal(name, CLIENT_ID_RANGE)
    return raw


def new_order(params: Mapping[str, str], specs: Mapping[str, SymbolSpec], default_client_id: str
              ) -> tuple[OrderRequest, str]:
    """POST /api/v3/order's parameters as Troupe's `OrderRequest`, and the response type asked for
    (Binance's default: FULL for MARKET and LIMIT, ACK for the others)."""
    only(params, ORDER_PARAMS)
    required(params, "symbol", "side", "type")
    sym = symbol(params, specs)
    if params["side"] not in Side.__members__:
        raise BinanceError(-1117, "Invalid side.")
    if params["type"] not in OrderType.__members__:
        raise BinanceError(-1116, "Invalid orderType.")
    kind = OrderType(params["type"])
    tif = params.get("timeInForce")
    if tif is not None and tif not in TimeInForce.__members__:
        raise BinanceError(-1115, "Invalid timeInForce.")
    qty, quote_qty, price, stop = (decimal(params, n) for n in ("quantity", "quoteOrderQty", "price", "stopPrice"))
    delta = integer(params, "trailingDelta")
    if kind is OrderType.MARKET:
        if (qty is None) == (quote_qty is None):
            raise one_of("quantity", "quoteOrderQty")
        absent(params, "price", "timeInForce", "stopPrice", "trailingDelta")
    elif kind is OrderType.LIMIT:
        required(params, "timeInForce", "quantity", "price")
        absent(params, "quoteOrderQty", "stopPrice", "trailingDelta")
    elif kind is OrderType.LIMIT_MAKER:
        required(params, "quantity", "price")
        absent(params, "timeInForce", "quoteOrderQty", "stopPrice", "trailingDelta")
    else:
        required(params, "quantity")
        absent(params, "quoteOrderQty")
        if stop is None and delta is None:
            raise one_of("stopPrice", "trailingDelta")
        if kind.value.endswith("_LIMIT"):
            required(params, "timeInForce", "price")
        else:
            absent(params, "price", "timeInForce")
    resp_type = params.get("newOrderRespType") or ("FULL" if kind in (OrderType.MARKET, OrderType.LIMIT) else "ACK")
    if resp_type not in RESP_TYPES:
        raise BinanceError(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    cid = client_id(params, "newClientOrderId") or default_client_id
    return OrderRequest(client_order_id=cid, symbol=sym, side=Side(params["side"]), type=kind, quantity=qty,
                        quote_order_qty=quote_qty, price=price,
                        time_in_force=TimeInForce(tif) if tif is not None else None, stop_price=stop,
                        trailing_delta=delta), resp_type


def order_ref(params: Mapping[str, str]) -> tuple[int | None, str | None]:
    """`orderId` or `origClientOrderId`: one of them names the order."""
    order_id = integer(params, "orderId")
    cid = client_id(params, "origClientOrderId")
    if order_id is None and cid is None:
        raise one_of("orderId", "origClientOrderId")
    return order_id, cid


def new_oco(params: Mapping[str, str], specs: Mapping[str, SymbolSpec], default_list_id: str
            ) -> tuple[OcoRequest, str]:
    """POST /api/v3/orderList/oco as Troupe's `OcoRequest`: the take-profit leg (LIMIT_MAKER or
    TAKE_PROFIT_LIMIT) is the above order of a SELL and the below order of a BUY, the stop-loss leg
    (STOP_LOSS or STOP_LOSS_LIMIT) the other one; the legs are named <list id>-tp and -sl."""
    only(params, OCO_PARAMS)
    required(params, "symbol", "side", "quantity", "aboveType", "belowType")
    sym = symbol(params, specs)
    if params["side"] not in Side.__members__:
        raise BinanceError(-1117, "Invalid side.")
    side = Side(params["side"])
    tp_leg, sl_leg = ("above", "below") if side is Side.SELL else ("below", "above")
    for leg in ("above", "below"):
        if params[f"{leg}Type"] not in OrderType.__members__:
            raise BinanceError(-1116, "Invalid orderType.")
    tp_type, sl_type = OrderType(params[f"{tp_leg}Type"]), OrderType(params[f"{sl_leg}Type"])
    if tp_type not in _TAKE_PROFIT_LEGS or sl_type not in _STOP_LOSS_LEGS:
        raise BinanceError(-1158, OCO_TYPE)
    for leg, kind in ((tp_leg, tp_type), (sl_leg, sl_type)):
        tif = params.get(f"{leg}TimeInForce")
        if tif is not None and tif not in TimeInForce.__members__:
            raise BinanceError(-1115, "Invalid timeInForce.")
        if kind is OrderType.STOP_LOSS:
            absent(params, f"{leg}Price")
        else:
            required(params, f"{leg}Price")
        if kind in (OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
            required(params, f"{leg}TimeInForce")
        else:
            absent(params, f"{leg}TimeInForce")
    if tp_type is OrderType.LIMIT_MAKER:
        absent(params, f"{tp_leg}StopPrice")
    else:
        required(params, f"{tp_leg}StopPrice")
    absent(params, f"{tp_leg}TrailingDelta")
    stop, delta = decimal(params, f"{sl_leg}StopPrice"), integer(params, f"{sl_leg}TrailingDelta")
    if stop is None and delta is None:
        raise one_of(f"{sl_leg}StopPrice", f"{sl_leg}TrailingDelta")
    quantity, price = decimal(params, "quantity"), decimal(params, f"{tp_leg}Price")
    assert quantity is not None and price is not None
    list_id = params.get("listClientOrderId")
    if list_id is not None and not _LIST_ID.fullmatch(list_id):
        raise illegal("listClientOrderId", LIST_ID_RANGE)
    sl_tif = params.get(f"{sl_leg}TimeInForce")
    resp_type = params.get("newOrderRespType") or "ACK"
    if resp_type not in RESP_TYPES:
        raise BinanceError(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    return OcoRequest(list_id or default_list_id, sym, side, quantity, price, stop_price=stop,
                      tp_stop_price=decimal(params, f"{tp_leg}StopPrice"),
                      stop_limit_price=decimal(params, f"{sl_leg}Price"),
                      stop_limit_time_in_force=TimeInForce(sl_tif) if sl_tif else None,
                      trailing_delta=delta), resp_type


def list_ref(params: Mapping[str, str], id_name: str, client_name: str) -> tuple[int | None, str | None]:
    """An order list by its id or its listClientOrderId."""
    list_id = integer(params, id_name)
    cid = params.get(client_name) or None
    if list_id is None and cid is None:
        raise one_of(id_name, client_name)
    return list_id, cid

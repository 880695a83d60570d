"""A local fake of the Binance Spot Testnet REST API that checks requests as strictly as Binance.

It verifies HMAC signatures over the exact query string + body, the timestamp against recvWindow
(default 5000 ms, at most 60000), mandatory and unexpected parameters, decimal syntax, symbol
filters, balances and duplicate client order ids, and answers with Binance's codes and messages.
Tests can set prices, trade through resting orders, move its clock, and inject faults (HTTP 5xx,
-1007, 429 with Retry-After, a timeout, a dropped connection), either before or after the order
is really executed: the worst case for a client is an order that exists while the answer says
nothing. `orders_with(client_order_id)` is the fake's ledger for "exactly one order" assertions.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
FEE = Decimal("0.001")
MAX_RECV_WINDOW = 60_000

# The example key pair of Binance's documentation (SIGNED request example, HMAC keys).
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class ApiError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class SymbolRules:
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")


SYMBOLS = {
    "BTCUSDT": SymbolRules("BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("9000"),
                           Decimal("5")),
    "ETHUSDT": SymbolRules("ETH", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal("9000"),
                           Decimal("5")),
    "SOLUSDT": SymbolRules("SOL", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("90000"),
                           Decimal("5")),
    "BNBUSDT": SymbolRules("BNB", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("90000"),
                           Decimal("5")),
    "LTCBTC": SymbolRules("LTC", "BTC", Decimal("0.00001"), Decimal("0.001"), Decimal("0.001"), Decimal("100000"),
                          Decimal("0.0001"), Decimal("0.00001")),
}


@dataclass
class Fault:
    method: str
    path: str
    kind: str  # "5xx", "-1007", "429", "timeout", "drop"
    execute: bool  # True: the request is carried out, only the answer is lost


@dataclass
class FakeOrder:
    order_id: int
    api_key: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str | None
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    cumm_quote: Decimal = Decimal(0)
    locked: Decimal = Decimal(0)
    fills: list[dict[str, Any]] = field(default_factory=list)
    time: int = 0
    update_time: int = 0
    list_id: int = -1

    def json(self, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": self.list_id,
            "clientOrderId": self.client_order_id,
            "transactTime": self.update_time, "price": _s(self.price or Decimal(0)),
            "origQty": _s(self.quantity or Decimal(0)), "executedQty": _s(self.executed),
            "origQuoteOrderQty": _s(self.quote_order_qty or Decimal(0)), "cummulativeQuoteQty": _s(self.cumm_quote),
            "status": self.status, "timeInForce": self.time_in_force or "GTC", "type": self.type, "side": self.side,
            "workingTime": self.time, "selfTradePreventionMode": "NONE", "time": self.time,
            "updateTime": self.update_time, "isWorking": self.status in ("NEW", "PARTIALLY_FILLED"),
        }
        if self.stop_price is not None:
            body["stopPrice"] = _s(self.stop_price)
        if full:
            body["fills"] = [{k: v for k, v in f.items() if k in ("price", "qty", "commission", "commissionAsset",
                                                                   "tradeId")} for f in self.fills]
        return body


def _s(d: Decimal) -> str:
    return f"{d:.8f}"


class FakeBinance:
    def __init__(self) -> None:
        self.accounts: dict[str, tuple[str, dict[str, list[Decimal]]]] = {}  # key -> (secret, {asset: [free, locked]})
        self.orders: list[FakeOrder] = []
        self.prices: dict[str, tuple[Decimal, Decimal]] = {"BTCUSDT": (Decimal("50000"), Decimal("50001")),
                                                           "ETHUSDT": (Decimal("3000"), Decimal("3000.5")),
                                                           "SOLUSDT": (Decimal("150"), Decimal("150.05")),
                                                           "BNBUSDT": (Decimal("600"), Decimal("600.1")),
                                                           "LTCBTC": (Decimal("0.11"), Decimal("0.1101"))}
        self.clock_offset_ms = 0
        self.fixed_now_ms: int | None = None
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.timeout_s = 3.0
        self._ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.stream_url = ""
        self.streams: list[tuple[web.WebSocketResponse, list[str]]] = []
        self.stream_connects = 0
        self.stream_connected = asyncio.Event()
        self.kline_requests: list[dict[str, str]] = []
        self._stream_trade_ids = itertools.count(1)
        self._depth_ids = itertools.count(1)

    # --- set-up by tests ---------------------------------------------------------------------------
    def add_account(self, api_key: str, secret: str, balances: dict[str, str]) -> None:
        self.accounts[api_key] = (secret, {a: [Decimal(v), Decimal(0)] for a, v in balances.items()})

    def inject(self, method: str, path: str, kind: str, execute: bool = False, times: int = 1) -> None:
        self.faults.extend(Fault(method, path, kind, execute) for _ in range(times))

    def orders_with(self, client_order_id: str) -> list[FakeOrder]:
        return [o for o in self.orders if o.client_order_id == client_order_id]

    def balance(self, api_key: str, asset: str) -> tuple[Decimal, Decimal]:
        free, locked = self.accounts[api_key][1].get(asset, [Decimal(0), Decimal(0)])
        return free, locked

    def now_ms(self) -> int:
        return self.fixed_now_ms if self.fixed_now_ms is not None else int(time.time() * 1000) + self.clock_offset_ms

    def trade(self, symbol: str, price: Decimal, qty: Decimal | None = None) -> None:
        """A trade prints at `price`: resting limit orders it crosses fill (up to `qty` each)."""
        for order in [o for o in self.orders if o.symbol == symbol and o.status in ("NEW", "PARTIALLY_FILLED")
                      and o.type in ("LIMIT", "LIMIT_MAKER") and o.status in ("NEW", "PARTIALLY_FILLED")]:
            assert order.price is not None and order.quantity is not None
            if order.status not in ("NEW", "PARTIALLY_FILLED"):
                continue  # its list sibling filled a moment ago
            if (order.side == "BUY" and price <= order.price) or (order.side == "SELL" and price >= order.price):
                left = order.quantity - order.executed
                self._take_over_list_lock(order)
                self._fill(order, order.price, left if qty is None else min(qty, left), from_locked=True)

    def _take_over_list_lock(self, order: FakeOrder) -> None:
        """One leg of an OCO executes: the other is canceled and its reservation passes over."""
        for other in self.orders:
            if other.list_id == order.list_id != -1 and other is not order and other.status == "NEW":
                order.locked += other.locked
                other.locked = Decimal(0)
                other.status = "EXPIRED"
                other.update_time = self.now_ms()

    # --- server ------------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/api/v3/time", self._time)
        app.router.add_get("/api/v3/ping", self._ping)
        app.router.add_get("/api/v3/exchangeInfo", self._exchange_info)
        app.router.add_get("/api/v3/klines", self._klines)
        app.router.add_get("/stream", self._stream)
        app.router.add_route("*", "/api/v3/{endpoint:.*}", self._signed)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api"
        self.stream_url = f"ws://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        await self.drop_streams()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- market data -------------------------------------------------------------------------------
    async def _klines(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.kline_requests.append(q)
        if q.get("symbol") not in SYMBOLS:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        step = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000,
                "1d": 86_400_000}.get(q.get("interval", ""))
        if step is None:
            return web.json_response({"code": -1120, "msg": "Invalid interval."}, status=400)
        limit = int(q.get("limit", "500"))
        bid, ask = self.prices[q["symbol"]]
        mid = (bid + ask) / 2
        start = (self.now_ms() // step - limit + 1) * step
        rows = [[start + i * step, _s(mid - 1), _s(mid + 2), _s(mid - 2), _s(mid + 1), "1.50000000",
                 start + (i + 1) * step - 1, "0", 10, "0", "0", "0"] for i in range(limit)]
        return web.json_response(rows)

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        names = request.query.get("streams", "").split("/")
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.streams.append((ws, names))
        self.stream_connects += 1
        self.stream_connected.set()
        async for _ in ws:  # Binance ignores what clients send on a combined stream here
            pass
        self.streams = [(w, n) for w, n in self.streams if w is not ws]
        return ws

    async def _send(self, stream: str, data: dict[str, Any] | str) -> None:
        text = data if isinstance(data, str) else json.dumps({"stream": stream, "data": data})
        for ws, names in list(self.streams):
            if stream in names and not ws.closed:
                await ws.send_str(text)

    async def push_trade(self, symbol: str, price: str, qty: str = "0.01", ts: int | None = None,
                         trade_id: int | None = None) -> None:
        t = self.now_ms() if ts is None else ts
        await self._send(f"{symbol.lower()}@trade", {
            "e": "trade", "E": t, "s": symbol, "t": trade_id or next(self._stream_trade_ids), "p": price,
            "q": qty, "T": t, "m": True, "M": True})

    async def push_book(self, symbol: str, bid: str, ask: str) -> None:
        await self._send(f"{symbol.lower()}@bookTicker", {"u": 1, "s": symbol, "b": bid, "B": "1", "a": ask,
                                                           "A": "1"})

    async def push_depth(self, symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        """`<symbol>@depth20@100ms`: the top levels, best first, as Binance's partial-depth stream sends them."""
        await self._send(f"{symbol.lower()}@depth20@100ms", {
            "lastUpdateId": next(self._depth_ids), "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]})

    async def push_raw(self, symbol: str, text: str) -> None:
        await self._send(f"{symbol.lower()}@trade", text)

    async def drop_streams(self) -> None:
        for ws, _ in list(self.streams):
            await ws.close(code=1001, message=b"going away")
        self.streams.clear()
        self.stream_connected.clear()

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.now_ms()})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        return web.json_response({"timezone": "UTC", "serverTime": self.now_ms(), "symbols": [
            {"symbol": s, "status": "TRADING", "baseAsset": r.base, "quoteAsset": r.quote,
             "orderTypes": ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
             "filters": [
                 {"filterType": "PRICE_FILTER", "minPrice": _s(r.min_price), "maxPrice": _s(r.max_price),
                  "tickSize": _s(r.tick)},
                 {"filterType": "LOT_SIZE", "minQty": _s(r.min_qty), "maxQty": _s(r.max_qty), "stepSize": _s(r.step)},
                 {"filterType": "NOTIONAL", "minNotional": _s(r.min_notional), "applyMinToMarket": True,
                  "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5}]}
            for s, r in SYMBOLS.items()]})

    async def _signed(self, request: web.Request) -> web.StreamResponse:
        body = (await request.read()).decode()
        endpoint = f"{request.method} /api/v3/{request.match_info['endpoint']}"
        try:
            query = self._authenticate(request, body)
            self.requests.append((request.method, request.path, query))
            handler = {"POST /api/v3/order": self._new_order, "POST /api/v3/orderList/oco": self._new_oco,
                       "GET /api/v3/order": self._query_order,
                       "DELETE /api/v3/order": self._cancel_order, "GET /api/v3/account": self._account,
                       "GET /api/v3/myTrades": self._my_trades}.get(endpoint)
            if handler is None:
                raise ApiError(-1020, "This operation is not supported.", 404)
            fault = next((f for f in self.faults if f.method == request.method and f.path == request.path), None)
            if fault is not None:
                self.faults.remove(fault)
                if fault.execute:
                    handler(query)
                return await self._fail(request, fault)
            return web.json_response(handler(query))
        except ApiError as exc:
            return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)

    async def _fail(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "5xx":
            return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")
        if fault.kind == "-1007":
            return web.json_response({"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                      "Send status unknown; execution status unknown."}, status=408)
        if fault.kind == "429":
            return web.json_response({"code": -1003, "msg": "Too much request weight used; current limit is "
                                      "6000 request weight per 1 MINUTE."}, status=429, headers={"Retry-After": "1"})
        if fault.kind == "timeout":
            await asyncio.sleep(self.timeout_s)
            return web.json_response({})
        assert fault.kind == "drop"
        assert request.transport is not None
        request.transport.abort()
        raise ConnectionResetError("dropped on purpose")

    # --- request checks ----------------------------------------------------------------------------
    def _authenticate(self, request: web.Request, body: str) -> dict[str, str]:
        api_key = request.headers.get("X-MBX-APIKEY", "")
        if api_key not in self.accounts:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        raw = request.query_string
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw)) + \
                parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body))
        except ValueError:
            raise ApiError(-1100, "Illegal characters found in a parameter.") from None
        names = [k for k, _ in pairs]
        if len(names) != len(set(names)):
            raise ApiError(-1101, "Duplicate values for a parameter detected.")
        query = dict(pairs)
        signature = query.pop("signature", "")
        if not signature:
            raise ApiError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        payload = "&".join(p for p in raw.split("&") if not p.startswith("signature=")) + \
            "&".join(p for p in body.split("&") if not p.startswith("signature="))
        expected = hmac.new(self.accounts[api_key][0].encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(-1022, "Signature for this request is not valid.")
        stamp = query.get("timestamp", "")
        if not stamp.isdigit():
            raise ApiError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        window = Decimal(query.get("recvWindow", "5000"))
        if window > MAX_RECV_WINDOW:
            raise ApiError(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if int(stamp) >= now + 1000:
            raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - int(stamp) > window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
        query["_api_key"] = api_key
        return query

    @staticmethod
    def _allowed(query: dict[str, str], allowed: set[str]) -> None:
        extra = set(query) - allowed - {"timestamp", "recvWindow", "_api_key"}
        if extra:
            raise ApiError(-1104, f"Not all sent parameters were read; read '{len(allowed)}' parameter(s) but was "
                                  f"sent '{len(allowed) + len(extra)}'.")

    @staticmethod
    def _decimal(query: dict[str, str], name: str) -> Decimal | None:
        raw = query.get(name)
        if raw is None:
            return None
        if not DECIMAL.fullmatch(raw):
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                  f"'^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.")
        return Decimal(raw)

    @staticmethod
    def _required(query: dict[str, str], *names: str) -> None:
        for name in names:
            if not query.get(name):
                raise ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")

    @staticmethod
    def _not_sent(query: dict[str, str], *names: str) -> None:
        for name in names:
            if name in query:
                raise ApiError(-1106, f"Parameter '{name}' sent when not required.")

    # --- endpoints ---------------------------------------------------------------------------------
    def _new_order(self, q: dict[str, str]) -> dict[str, Any]:
        self._allowed(q, {"symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price",
                          "newClientOrderId", "stopPrice", "trailingDelta", "newOrderRespType"})
        self._required(q, "symbol", "side", "type")
        rules = SYMBOLS.get(q["symbol"])
        if rules is None:
            raise ApiError(-1121, "Invalid symbol.")
        if q["side"] not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        kind = q["type"]
        qty, quote_qty, price, stop = (self._decimal(q, n) for n in ("quantity", "quoteOrderQty", "price", "stopPrice"))
        if kind == "MARKET":
            if (qty is None) == (quote_qty is None):
                raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            self._not_sent(q, "price", "timeInForce", "stopPrice")
        elif kind == "LIMIT":
            self._required(q, "timeInForce", "quantity", "price")
            self._not_sent(q, "quoteOrderQty", "stopPrice")
        elif kind in ("STOP_LOSS", "TAKE_PROFIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
            self._required(q, "quantity")
            if stop is None and "trailingDelta" not in q:
                raise ApiError(-1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!")
            if kind.endswith("_LIMIT"):
                self._required(q, "timeInForce", "price")
            else:
                self._not_sent(q, "price", "timeInForce")
        else:
            raise ApiError(-1116, "Invalid orderType.")
        if q.get("timeInForce") not in (None, "GTC", "IOC", "FOK"):
            raise ApiError(-1115, "Invalid timeInForce.")
        key = q["_api_key"]
        cid = q.get("newClientOrderId") or f"auto{next(self._ids)}"
        if any(o.api_key == key and o.client_order_id == cid and o.status in ("NEW", "PARTIALLY_FILLED")
               for o in self.orders):
            raise ApiError(-2010, "Duplicate order sent.")
        self._check_filters(rules, qty, quote_qty, price, kind)
        bid, ask = self.prices[q["symbol"]]
        if stop is not None:
            last = (bid + ask) / 2
            above = (kind.startswith("STOP_LOSS") and q["side"] == "BUY") or \
                (kind.startswith("TAKE_PROFIT") and q["side"] == "SELL")
            if (above and stop <= last) or (not above and stop >= last):
                raise ApiError(-2010, "Order would trigger immediately.")
        now = self.now_ms()
        order = FakeOrder(next(self._ids), key, cid, q["symbol"], q["side"], kind, q.get("timeInForce"), qty, quote_qty,
                          price, stop, time=now, update_time=now)
        self._execute(order, rules, bid, ask)
        self.orders.append(order)
        return order.json(full=q.get("newOrderRespType", "FULL") == "FULL")

    def _new_oco(self, q: dict[str, str]) -> dict[str, Any]:
        legs = ("Type", "ClientOrderId", "Price", "StopPrice", "TrailingDelta", "TimeInForce")
        self._allowed(q, {"symbol", "side", "quantity", "listClientOrderId", "newOrderRespType",
                          *(f"{p}{n}" for p in ("above", "below") for n in legs)})
        self._required(q, "symbol", "side", "quantity", "aboveType", "belowType")
        rules = SYMBOLS.get(q["symbol"])
        if rules is None:
            raise ApiError(-1121, "Invalid symbol.")
        if q["side"] not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        qty = self._decimal(q, "quantity")
        above = {n: q[f"above{n}"] for n in legs if f"above{n}" in q}
        below = {n: q[f"below{n}"] for n in legs if f"below{n}" in q}
        bid, ask = self.prices[q["symbol"]]
        last = (bid + ask) / 2
        for leg, side_of_market in ((above, "above"), (below, "below")):
            price = Decimal(leg["Price"]) if "Price" in leg else None
            stop = Decimal(leg["StopPrice"]) if "StopPrice" in leg else None
            self._check_filters(rules, qty, None, price, leg["Type"])
            level = price if leg["Type"] == "LIMIT_MAKER" else stop
            if level is not None and ((side_of_market == "above" and level <= last) or
                                      (side_of_market == "below" and level >= last)):
                raise ApiError(-2010, "Order would trigger immediately." if leg["Type"] != "LIMIT_MAKER"
                               else "Order would immediately match and take.")
        assert qty is not None
        key = q["_api_key"]
        funds = self.accounts[key][1]
        pot = funds.setdefault(rules.base if q["side"] == "SELL" else rules.quote, [Decimal(0), Decimal(0)])
        prices = [Decimal(leg.get("Price") or leg.get("StopPrice") or "0") for leg in (above, below)]
        lock = qty if q["side"] == "SELL" else max(prices) * qty
        if pot[0] < lock:
            raise ApiError(-2010, "Account has insufficient balance for requested action.")
        pot[0] -= lock
        pot[1] += lock
        list_id = next(self._ids)
        now = self.now_ms()
        made = []
        for i, leg in enumerate((above, below)):
            order = FakeOrder(next(self._ids), key, leg.get("ClientOrderId") or f"auto{list_id}-{i}", q["symbol"],
                              q["side"], leg["Type"], leg.get("TimeInForce"), qty, None,
                              Decimal(leg["Price"]) if "Price" in leg else None,
                              Decimal(leg["StopPrice"]) if "StopPrice" in leg else None, time=now, update_time=now,
                              locked=lock if i == 0 else Decimal(0), list_id=list_id)
            made.append(order)
        self.orders.extend(made)
        return {"orderListId": list_id, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
                "listOrderStatus": "EXECUTING", "listClientOrderId": q.get("listClientOrderId", f"list{list_id}"),
                "transactionTime": now, "symbol": q["symbol"],
                "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
                           for o in made],
                "orderReports": [o.json(full=True) for o in made]}

    def _check_filters(self, r: SymbolRules, qty: Decimal | None, quote_qty: Decimal | None, price: Decimal | None,
                       kind: str) -> None:
        if price is not None and (price < r.min_price or price > r.max_price or price % r.tick):
            raise ApiError(-1013, "Filter failure: PRICE_FILTER")
        if qty is not None and (qty < r.min_qty or qty > r.max_qty or (qty - r.min_qty) % r.step):
            raise ApiError(-1013, "Filter failure: LOT_SIZE")
        if price is not None and qty is not None and price * qty < r.min_notional:
            raise ApiError(-1013, "Filter failure: NOTIONAL")
        if quote_qty is not None and quote_qty < r.min_notional:
            raise ApiError(-1013, "Filter failure: NOTIONAL")

    def _execute(self, order: FakeOrder, r: SymbolRules, bid: Decimal, ask: Decimal) -> None:
        funds = self.accounts[order.api_key][1]
        base, quote = funds.setdefault(r.base, [Decimal(0), Decimal(0)]), funds.setdefault(r.quote, [Decimal(0),
                                                                                                      Decimal(0)])
        touch = ask if order.side == "BUY" else bid
        if order.type == "MARKET":
            qty = order.quantity if order.quantity is not None else \
                ((order.quote_order_qty or Decimal(0)) / touch // r.step) * r.step
            need, pot = (qty * touch, quote) if order.side == "BUY" else (qty, base)
            if pot[0] < need:
                raise ApiError(-2010, "Account has insufficient balance for requested action.")
            self._fill(order, touch, qty, from_locked=False)
            return
        assert order.quantity is not None
        if order.type != "LIMIT":  # a stop order waits for its trigger (this fake never triggers it)
            if order.side == "SELL" or order.price is not None:
                lock, pot = (order.quantity, base) if order.side == "SELL" else (order.price * order.quantity, quote)
                if pot[0] < lock:
                    raise ApiError(-2010, "Account has insufficient balance for requested action.")
                pot[0] -= lock
                pot[1] += lock
                order.locked = lock
            return
        assert order.price is not None
        lock, pot = (order.price * order.quantity, quote) if order.side == "BUY" else (order.quantity, base)
        if pot[0] < lock:
            raise ApiError(-2010, "Account has insufficient balance for requested action.")
        crosses = (order.side == "BUY" and ask <= order.price) or (order.side == "SELL" and bid >= order.price)
        if order.time_in_force == "FOK" and not crosses:
            order.status = "EXPIRED"
            return
        pot[0] -= lock
        pot[1] += lock
        order.locked = lock
        if crosses:
            self._fill(order, touch, order.quantity, from_locked=True)
        elif order.time_in_force == "IOC":
            self._release(order)
            order.status = "EXPIRED"

    def _fill(self, order: FakeOrder, price: Decimal, qty: Decimal, from_locked: bool) -> None:
        r = SYMBOLS[order.symbol]
        funds = self.accounts[order.api_key][1]
        base, quote = funds.setdefault(r.base, [Decimal(0), Decimal(0)]), funds[r.quote]
        cost = price * qty
        if order.side == "BUY":
            commission, asset = qty * FEE, r.base
            if from_locked:
                spent = min(order.locked, cost)
                quote[1] -= spent
                order.locked -= spent
            else:
                quote[0] -= cost
            base[0] += qty - commission
        else:
            commission, asset = cost * FEE, r.quote
            if from_locked:
                base[1] -= qty
                order.locked -= qty
            else:
                base[0] -= qty
            quote[0] += cost - commission
        order.fills.append({"price": _s(price), "qty": _s(qty), "commission": _s(commission),
                            "commissionAsset": asset, "tradeId": next(self._trade_ids), "time": self.now_ms(),
                            "quoteQty": _s(cost)})
        order.executed += qty
        order.cumm_quote += cost
        order.update_time = self.now_ms()
        order.status = "FILLED" if order.quantity is None or order.executed == order.quantity else "PARTIALLY_FILLED"
        if order.status == "FILLED":
            self._release(order)

    def _release(self, order: FakeOrder) -> None:
        if order.locked:
            r = SYMBOLS[order.symbol]
            pot = self.accounts[order.api_key][1][r.quote if order.side == "BUY" else r.base]
            pot[1] -= order.locked
            pot[0] += order.locked
            order.locked = Decimal(0)

    def _find(self, q: dict[str, str]) -> FakeOrder | None:
        self._required(q, "symbol")
        if "orderId" not in q and "origClientOrderId" not in q:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        for o in reversed(self.orders):
            if o.api_key == q["_api_key"] and o.symbol == q["symbol"] and (
                    str(o.order_id) == q.get("orderId") or o.client_order_id == q.get("origClientOrderId")):
                return o
        return None

    def _query_order(self, q: dict[str, str]) -> dict[str, Any]:
        self._allowed(q, {"symbol", "orderId", "origClientOrderId"})
        order = self._find(q)
        if order is None:
            raise ApiError(-2013, "Order does not exist.")
        return order.json()

    def _cancel_order(self, q: dict[str, str]) -> dict[str, Any]:
        self._allowed(q, {"symbol", "orderId", "origClientOrderId", "newClientOrderId"})
        order = self._find(q)
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(-2011, "Unknown order sent.")
        self._release(order)
        order.status = "CANCELED"
        order.update_time = self.now_ms()
        for other in self.orders:  # canceling one order of a list cancels the list
            if other.list_id == order.list_id != -1 and other is not order and other.status == "NEW":
                self._release(other)
                other.status = "CANCELED"
                other.update_time = order.update_time
        return {**order.json(), "origClientOrderId": order.client_order_id}

    def _account(self, q: dict[str, str]) -> dict[str, Any]:
        self._allowed(q, {"omitZeroBalances"})
        funds = self.accounts[q["_api_key"]][1]
        return {"canTrade": True, "accountType": "SPOT", "updateTime": self.now_ms(),
                "balances": [{"asset": a, "free": _s(f), "locked": _s(lk)} for a, (f, lk) in sorted(funds.items())
                             if f or lk or q.get("omitZeroBalances") != "true"]}

    def _my_trades(self, q: dict[str, str]) -> list[dict[str, Any]]:
        self._allowed(q, {"symbol", "orderId", "startTime", "endTime", "fromId", "limit"})
        self._required(q, "symbol")
        out = []
        for o in self.orders:
            if o.api_key != q["_api_key"] or o.symbol != q["symbol"]:
                continue
            if "orderId" in q and str(o.order_id) != q["orderId"]:
                continue
            out += [{"symbol": o.symbol, "id": f["tradeId"], "orderId": o.order_id, "orderListId": -1,
                     "price": f["price"], "qty": f["qty"], "quoteQty": f["quoteQty"], "commission": f["commission"],
                     "commissionAsset": f["commissionAsset"], "time": f["time"], "isBuyer": o.side == "BUY",
                     "isMaker": o.type == "LIMIT", "isBestMatch": True} for f in o.fills]
        return out

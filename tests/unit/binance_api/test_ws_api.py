"""The WebSocket API's pure side: frames parsed and refused in Binance's errors, what a signature
covers (Binance's sorted rule, and python-binance's encoded form), the answer frames."""

from __future__ import annotations

import json

import ccxt.pro as ccxtpro
import pytest

from app.api_keys import sign
from app.binance_api import ws_api as wa


def refused(text: str) -> tuple[object, int]:
    with pytest.raises(wa.FrameError) as exc:
        wa.parse_request(text)
    return exc.value.request_id, exc.value.error.code


def test_a_request_keeps_its_id_and_its_numbers_as_their_text() -> None:
    req = wa.parse_request('{"id": 7, "method": "order.place", "params": {"quantity": 0.10, "price": "1.5",'
                           ' "timestamp": 1700000000000, "test": true}}')
    assert (req.id, req.method) == (7, "order.place")
    assert req.params == {"quantity": "0.10", "price": "1.5", "timestamp": "1700000000000", "test": "true"}
    assert wa.parse_request('{"id": "abc", "method": "ping"}') == wa.Request("abc", "ping", {})
    assert wa.parse_request('{"id": "1", "method": "ping"}').id == "1"  # echoed as sent: a string stays one
    assert wa.parse_request('{"id": 2, "method": "order.place", "params": {"q": 1e-8}}').params == {"q": "1e-8"}
    assert wa.parse_request('{"id": null, "method": "time", "params": null}').params == {}


def test_malformed_frames_are_binances_errors_naming_the_id_when_it_could_be_read() -> None:
    assert refused("{nope") == (None, -1100)
    assert refused("[1, 2]") == (None, -1100)
    assert refused('{"id": 1, "method": "no.such"}') == (1, -1020)
    assert refused('{"id": 1}') == (1, -1102)
    assert refused('{"id": 1, "method": "ping", "extra": 1}') == (1, -1101)
    assert refused('{"id": 1, "method": "ping", "params": [1]}') == (1, -1102)
    assert refused('{"id": 1, "method": "ping", "params": {"a": {"b": 1}}}') == (1, -1100)
    assert refused('{"id": 1, "method": "ping", "params": {"a": NaN}}') == (None, -1100)
    assert refused('{"id": "' + "x" * 37 + '", "method": "ping"}') == (None, -1102)
    assert refused('{"id": {"a": 1}, "method": "ping"}') == (None, -1102)
    assert refused('{"id": 1.5, "method": "ping"}') == (None, -1102)
    assert refused('{"id": true, "method": "ping"}') == (None, -1102)


def test_the_signature_covers_the_sorted_parameters_but_itself_as_clients_sign_them() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
              "price": "52000.00", "newOrderRespType": "ACK", "recvWindow": "100", "timestamp": "1655716096498",
              "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"}
    raw, also = wa.payloads({**params, "signature": "x"})
    assert raw == (b"apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&newOrderRespType=ACK"
                   b"&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC"
                   b"&timestamp=1655716096498&type=LIMIT")
    assert also is None  # nothing to percent-encode
    # ccxt.pro signs a WebSocket API request this way (keysort, raw name=value pairs).
    ex = ccxtpro.binance({"apiKey": params["apiKey"], "secret": secret})
    ccxt_signed = ex.sign_params({k: v for k, v in params.items() if k not in ("apiKey", "timestamp")})
    assert ccxt_signed["signature"] == sign(secret, wa.payloads({k: str(v) for k, v in ccxt_signed.items()})[0])
    # python-binance percent-encodes the values first: that form is the second payload.
    assert wa.payloads({"newClientOrderId": "a:b/c", "timestamp": "1"}) == (
        b"newClientOrderId=a:b/c&timestamp=1", b"newClientOrderId=a%3Ab%2Fc&timestamp=1")


def test_answers_are_binances_frames() -> None:
    limits = wa.rate_limits(6000, 3)
    assert limits == [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000,
                       "count": 3}]
    assert wa.result_frame("a", {}, limits) == {"id": "a", "status": 200, "result": {}, "rateLimits": limits}
    assert "rateLimits" not in wa.result_frame("a", {}, None)
    from app.binance_api.errors import BinanceError
    frame = wa.error_frame(5, BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401), limits)
    assert json.loads(json.dumps(frame)) == {"id": 5, "status": 401, "error": {
        "code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, "rateLimits": limits}
    assert wa.parse_request('{"id":1,"method":"ping","params":{"returnRateLimits":false}}').wants_limits is False

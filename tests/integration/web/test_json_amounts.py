"""Amounts may be JSON numbers written plainly: read from their digits, never through a float.

The README said amounts must be JSON strings while JSON numbers were accepted; now both say the
same. A number is taken exactly as written (its literal text), so one a float would round onto
the grid is still refused; an exponent is refused, as in a string, since money is plain notation.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.helpers import auth, register

ORDER = '{{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":{qty},"price":{price}}}'


async def _post(client: Any, token: str, body: str) -> Any:
    return await client.post("/api/trading/orders", data=body,
                             headers={**auth(token), "Content-Type": "application/json"})


async def test_plain_json_numbers_are_read_exactly(client: Any) -> None:
    token, _ = await register(client)
    resp = await _post(client, token, ORDER.format(qty="0.1", price="1000.01"))
    assert resp.status == 202, await resp.text()
    order_id = (await resp.json())["orderId"]
    order = await (await client.get(f"/api/trading/orders/{order_id}", headers=auth(token))).json()
    assert (order["origQty"], order["price"]) == ("0.1", "1000.01")


async def test_a_number_a_float_would_round_onto_the_grid_is_refused(client: Any) -> None:
    token, _ = await register(client)
    # float("0.100000000000000001") == 0.1, a multiple of BTCUSDT's stepSize 0.00001; the exact value is not.
    resp = await _post(client, token, ORDER.format(qty="0.100000000000000001", price="1000"))
    assert resp.status in (400, 422), await resp.text()
    assert "LOT_SIZE" in (await resp.json())["detail"]


@pytest.mark.parametrize("qty", ["1e-1", "1E-1", "0.1e0", "1E+1", "-0.1"])
async def test_json_numbers_with_an_exponent_or_a_sign_are_refused(client: Any, qty: str) -> None:
    token, _ = await register(client)
    resp = await _post(client, token, ORDER.format(qty=qty, price="1000"))
    assert resp.status == 400, await resp.text()
    problem = await resp.json()
    assert problem["field"] == "quantity" and "plain decimal" in problem["detail"]

"""Binance's errors as Binance returns them: `{"code": -1013, "msg": "..."}` with its HTTP status.

Kept apart from Troupe's problem documents (web/problems.py): a Binance client maps these codes to
its own exceptions, so codes, texts and statuses follow `shared/reference/binance/` word for word.
"""

from __future__ import annotations

from typing import Any

INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
UNKNOWN_ORDER_SENT = "Unknown order sent."
ORDER_DOES_NOT_EXIST = "Order does not exist."
DUPLICATE_ORDER = "Duplicate order sent."
INVALID_KEY = "Invalid API-key, IP, or permissions for action."
TIMEOUT = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
INTEGER_RANGE = "^[0-9]{1,20}$"
CLIENT_ID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
LIST_ID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,32}$"  # Troupe names the legs <list id>-tp and <list id>-sl
PRICE_RELATIONSHIP = "The relationship of the prices for the orders is not correct."
OCO_TYPE = "Order type not supported in OCO."


class BinanceError(Exception):
    """A refusal in Binance's words: its code, its message and the HTTP status Binance answers with."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None,
                 data: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status, self.headers, self.data = code, msg, status, headers, data

    def body(self) -> dict[str, Any]:
        """`{code, msg}`; cancelReplace's failures add Binance's `data` with each half's outcome."""
        return {"code": self.code, "msg": self.msg, **({"data": self.data} if self.data is not None else {})}


def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def one_of(first: str, second: str) -> BinanceError:
    return BinanceError(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def illegal(name: str, legal: str) -> BinanceError:
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def empty(name: str) -> BinanceError:
    return BinanceError(-1105, f"Parameter '{name}' was empty.")


def filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def rejected(msg: str) -> BinanceError:
    return BinanceError(-2010, msg)


def too_much_weight(limit: int, retry_after_s: int) -> BinanceError:
    return BinanceError(-1003, f"Too much request weight used; current limit is {limit} request weight per 1 "
                        "MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.", 429,
                        {"Retry-After": str(retry_after_s)})

"""Tradable symbols and their exchange filters (Binance's PRICE_FILTER, LOT_SIZE, NOTIONAL)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.money import is_multiple, to_str


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    # Simulator parameters: where the random walk starts, how it moves, how deep the book is.
    start_price: Decimal
    annual_volatility: Decimal
    level_qty: Decimal

    def price_error(self, price: Decimal) -> str | None:
        """Why `price` breaks PRICE_FILTER, or None."""
        if price < self.min_price or price > self.max_price:
            return f"PRICE_FILTER: price must be between {to_str(self.min_price)} and {to_str(self.max_price)}"
        if not is_multiple(price, self.tick_size):
            return f"PRICE_FILTER: price must be a multiple of tickSize {to_str(self.tick_size)}"
        return None

    def qty_error(self, qty: Decimal) -> str | None:
        """Why `qty` breaks LOT_SIZE, or None."""
        if qty < self.min_qty or qty > self.max_qty:
            return f"LOT_SIZE: quantity must be between {to_str(self.min_qty)} and {to_str(self.max_qty)}"
        if not is_multiple(qty, self.step_size):
            return f"LOT_SIZE: quantity must be a multiple of stepSize {to_str(self.step_size)}"
        return None

    def notional_error(self, notional: Decimal) -> str | None:
        if notional < self.min_notional:
            return f"NOTIONAL: order value must be at least {to_str(self.min_notional)} {self.quote}"
        return None

    def to_json(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "baseAsset": self.base,
            "quoteAsset": self.quote,
            "status": "TRADING",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": to_str(self.min_price),
                 "maxPrice": to_str(self.max_price), "tickSize": to_str(self.tick_size)},
                {"filterType": "LOT_SIZE", "minQty": to_str(self.min_qty),
                 "maxQty": to_str(self.max_qty), "stepSize": to_str(self.step_size)},
                {"filterType": "NOTIONAL", "minNotional": to_str(self.min_notional)},
            ],
        }


def _spec(symbol: str, price: str, step: str, vol: str, level_qty: str, tick: str = "0.01") -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol, base=symbol[:-4], quote="USDT",
        tick_size=Decimal(tick), min_price=Decimal(tick), max_price=Decimal("1000000"),
        step_size=Decimal(step), min_qty=Decimal(step), max_qty=Decimal("9000"),
        min_notional=Decimal("5"), start_price=Decimal(price),
        annual_volatility=Decimal(vol), level_qty=Decimal(level_qty),
    )


# Levels close to the market in late 2026; filters as on the Binance Spot Testnet.
KNOWN_SPECS: dict[str, SymbolSpec] = {
    s.symbol: s
    for s in (
        _spec("BTCUSDT", "67250.00", "0.00001", "0.55", "0.4"),
        _spec("ETHUSDT", "3480.00", "0.0001", "0.70", "6"),
        _spec("SOLUSDT", "152.30", "0.001", "0.95", "150"),
        _spec("BNBUSDT", "598.40", "0.001", "0.60", "40"),
        _spec("XRPUSDT", "0.5820", "0.1", "0.90", "30000", tick="0.0001"),
        _spec("DOGEUSDT", "0.14210", "1", "1.00", "150000", tick="0.00001"),
    )
}


def spec_for(symbol: str) -> SymbolSpec:
    """The spec of a configured symbol; unknown USDT pairs get generic filters."""
    known = KNOWN_SPECS.get(symbol)
    if known is not None:
        return known
    return _spec(symbol, "100.00", "0.001", "0.80", "100")


def build_specs(symbols: tuple[str, ...]) -> dict[str, SymbolSpec]:
    return {s: spec_for(s) for s in symbols}

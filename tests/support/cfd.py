"""What the CFD unit tests share: the desk's constants, a fresh engine, ticks, and applying a script."""

from __future__ import annotations

from decimal import Decimal

from app.cfd.engine import CfdEngine
from app.cfd.inputs import Input, Tick

D = Decimal
MMR = D("0.005")
FEE = D("0.0004")
TICK = D("0.01")
TICKS = {"BTCUSDT": TICK}


def engine() -> CfdEngine:
    return CfdEngine(TICKS, MMR, FEE)


def tick(bid: str, ask: str | None = None, ts: int = 1, mark: str | None = None) -> Tick:
    b = D(bid)
    a = D(ask) if ask else b + D("0.5")
    return Tick("BTCUSDT", b, a, D(mark) if mark else (b + a) / 2, ts)


def run(e: CfdEngine, inputs: list[Input]) -> list[list[object]]:
    return [e.apply(i, item) for i, item in enumerate(inputs, start=1)]

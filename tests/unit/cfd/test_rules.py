"""The CFD desk's arithmetic (pure): the exact liquidation formula and its rounding, leverage and
stop rules, the one mark / unrealized PnL, and the browser's preview of the same formula."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cfd import rules as cfd
from app.cfd.rules import CfdError, Direction
from tests.support.cfd import MMR, TICK, D


def equity(position: cfd.Position, mark: Decimal) -> Decimal:
    """What the position is worth at `mark`: the definition liquidation is tested against."""
    return position.margin + cfd.upnl(position.direction, position.entry, position.qty, mark)


def maintenance(position: cfd.Position, mark: Decimal, mmr: Decimal) -> Decimal:
    return position.qty * mark * mmr


def test_the_exact_formula_not_the_approximation() -> None:
    long = cfd.exact_liquidation_price(Direction.LONG, D(100), D(10), D(100), MMR)  # L = 10
    short = cfd.exact_liquidation_price(Direction.SHORT, D(100), D(10), D(100), MMR)
    assert long.quantize(D("0.0001")) == D("90.4523") and short.quantize(D("0.0001")) == D("109.4527")
    assert short < D("109.5"), "EP·(1 + 1/L + MMR) would liquidate the short late"
    assert cfd.liquidation_price(Direction.LONG, D(100), D(10), D(100), MMR, TICK) == D("90.46")  # rounded up
    assert cfd.liquidation_price(Direction.SHORT, D(100), D(10), D(100), MMR, TICK) == D("109.45")  # down
    assert cfd.liquidation_price(Direction.LONG, D(100), D(1), D(100), MMR, TICK) == 0  # 1×: never


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=D("0.5"), max_value=D("100000"), places=2),
       st.integers(min_value=10, max_value=1000).map(lambda n: D(n) / 10),
       st.sampled_from([Direction.LONG, Direction.SHORT]),
       st.decimals(min_value=D("10"), max_value=D("50000"), places=2))
def test_at_the_liquidation_price_equity_is_the_maintenance_margin(entry: Decimal, leverage: Decimal,
                                                                    direction: Direction, margin: Decimal) -> None:
    qty = cfd.quantity(margin, leverage, entry)
    if qty <= 0:
        return
    exact = cfd.exact_liquidation_price(direction, entry, qty, margin, MMR)
    if exact <= 0:
        return
    p = cfd.Position(1, 1, "BTCUSDT", direction, margin, leverage, entry, qty, exact)
    assert abs(equity(p, exact) - maintenance(p, exact, MMR)) <= D("1e-8"), "one quantization step"
    rounded = cfd.liquidation_price(direction, entry, qty, margin, MMR, TICK)
    if rounded > 0:
        surplus = equity(p, rounded) - maintenance(p, rounded, MMR)
        assert surplus >= 0, "rounded toward the entry: never late"
        assert surplus <= qty * TICK * (1 + MMR)
    assert (exact < entry) if direction is Direction.LONG else (exact > entry)
    better = rounded + TICK if direction is Direction.LONG else rounded - TICK
    assert equity(p, better) > maintenance(p, better, MMR), "no liquidation at a better mark"


def test_higher_leverage_moves_the_liquidation_price_toward_entry() -> None:
    prices = [cfd.liquidation_price(Direction.LONG, D(100), cfd.quantity(D(100), D(lev), D(100)), D(100), MMR, TICK)
              for lev in (2, 5, 10, 50, 100)]
    assert prices == sorted(prices) and prices[-1] < D(100)


def test_leverage_and_stop_rules() -> None:
    for bad in (D("0.5"), D("100.1"), D("12.55")):
        with pytest.raises(CfdError):
            cfd.check_leverage(bad)
    cfd.check_leverage(D("12.5"))
    with pytest.raises(CfdError, match="stop-loss must be above the liquidation price"):
        cfd.check_stops(Direction.LONG, D(100), D(90), D(89), None)
    with pytest.raises(CfdError, match="take-profit must be below"):
        cfd.check_stops(Direction.SHORT, D(100), D(110), None, D(101))
    cfd.check_stops(Direction.SHORT, D(100), D(110), D(105), D(90))


def test_mark_and_unrealized_pnl_are_taken_where_the_position_would_close() -> None:
    """A long would sell at the bid and a short buy back at the ask; the PnL has 8 decimals."""
    assert cfd.mark_and_upnl(Direction.LONG, D(100), D("0.3"), D("110.25"), D("110.75")) == (D("110.25"),
                                                                                              D("3.075"))
    assert cfd.mark_and_upnl(Direction.SHORT, D(100), D("0.3"), D("110.25"), D("110.75")) == (D("110.75"),
                                                                                               D("-3.225"))
    mark, pnl = cfd.mark_and_upnl(Direction.LONG, D("0.1"), D("0.33333333"), D("0.13333333"), D("0.2"))
    assert mark == D("0.13333333") and pnl == pnl.quantize(D("1e-8"))


REPO = Path(__file__).resolve().parents[3]
NODE = shutil.which("node")
BIG = REPO / "node_modules" / "big.js" / "big.mjs"


def test_the_browser_liquidation_preview_matches_the_engine(tmp_path: Path) -> None:
    """static/js/cfd.js repeats the formula for the ticket's preview: run its function (as written there)
    under node on many positions and compare with `rules.liquidation_price`."""
    assert NODE is not None and BIG.exists(), "node and node_modules come with `make setup` (npm ci)"
    source = (REPO / "static" / "js" / "cfd.js").read_text()
    function = re.search(r"^export function liquidationPrice\(.*?^}$", source, re.S | re.M)
    constants = re.findall(r"^const ROUND_(?:UP|DOWN) = \d+;$", source, re.M)
    assert function is not None and len(constants) == 2
    rng = random.Random(5)
    cases = []
    for _ in range(300):
        direction = rng.choice([Direction.LONG, Direction.SHORT])
        entry = D(rng.randint(50, 10_000_000)) / 100
        leverage = D(rng.randint(10, 1000)) / 10
        margin = D(rng.randint(1_000, 10_000_000)) / 1000
        qty = cfd.quantity(margin, leverage, entry)
        cases.append((direction, entry, qty, margin))
    script = tmp_path / "preview.mjs"
    script.write_text(f'import Big from "{BIG.as_uri()}";\n' + "\n".join(constants) + "\n" + function.group(0)
                      + "\nconst cases = JSON.parse(process.argv[2]);\n"
                      + "console.log(JSON.stringify(cases.map(([d, e, q, m]) => liquidationPrice(d, new Big(e), "
                      + f'new Big(q), new Big(m), new Big("{MMR}"), new Big("{TICK}")).toFixed())));\n')
    out = subprocess.run([NODE, str(script), json.dumps([[d.value, str(e), str(q), str(m)] for d, e, q, m in cases])],
                         capture_output=True, text=True, timeout=60, check=True)
    browser = [D(x) for x in json.loads(out.stdout)]
    assert browser == [cfd.liquidation_price(d, e, q, m, MMR, TICK) for d, e, q, m in cases]

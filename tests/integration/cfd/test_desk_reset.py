"""An account reset's desk part: ordinary journaled inputs (close at market, margin to spot, the grant
again), so a restart rebuilds the same engine and a repeat does nothing twice."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from app.cfd.codec import state_hash
from app.cfd.desk import CfdDesk
from app.cfd.inputs import ClosePosition, Deposit, Withdraw
from app.domain.symbols import build_specs
from app.messages import CfdRequest, PriceTick
from app.persistence.ledger import BalanceCache
from settings import load_settings

OPEN = {"symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "10"}


def _desk(data_dir: Path) -> CfdDesk:
    settings = replace(load_settings({}), data_dir=data_dir, symbols=("BTCUSDT",))
    return CfdDesk(settings, build_specs(settings.symbols), 0)


def _request(n: int, action: str, **params: str) -> CfdRequest:
    return CfdRequest(msg_id=f"m{n}", reply_to="r", user_id=7, cmd_id=f"u7:c{n}", action=action, params=params)


def _tick(desk: CfdDesk) -> None:
    p = Decimal(65000)
    desk.on_tick(PriceTick(msg_id="tick", symbol="BTCUSDT", price=p, bid=p, ask=p + 1, ts=1, seq=1))


def test_a_reset_closes_moves_the_margin_out_and_grants_again_once(tmp_path: Path) -> None:
    desk = _desk(tmp_path)
    _tick(desk)
    desk.run([_request(1, "OPEN", **OPEN)], BalanceCache())
    assert desk.engine.balances[7] < Decimal(1000) and len(desk.engine.positions) == 1
    batch = desk.run([], BalanceCache(), [(7, "u7r1"), (8, "u8r1")])  # user 8 never used the desk: nothing
    kinds = [(type(item).__name__, getattr(item, "cmd_id", "")) for _, item, _ in batch.results]
    assert [k for k in kinds if k[0] != "Tick"] == [("ClosePosition", "u7r1:close-2"), ("Withdraw", "u7r1:withdraw"),
                                                    ("Deposit", "grant:7:u7r1")]
    assert batch.closed_by_reset == {"u7r1": 1, "u8r1": 0}
    withdrawn = next(item for _, item, _ in batch.results if isinstance(item, Withdraw))
    assert withdrawn.amount > 0 and desk.engine.balances[7] == Decimal(1000) and len(desk.engine.positions) == 0
    assert desk.engine.books_sum() == 0
    again = desk.run([], BalanceCache(), [(7, "u7r1")])
    assert not [i for _, i, _ in again.results if isinstance(i, (ClosePosition, Withdraw, Deposit))], "done once"
    desk.journal.close()
    restarted = _desk(tmp_path)
    restarted.journal.close()
    assert state_hash(restarted.engine) == state_hash(desk.engine), "the journal replays the reset exactly"

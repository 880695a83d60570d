"""The CFD desk's journal discipline, on a real desk and journal: the engine never holds an input the
journal lacks, and a refused request is answered but never journaled."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from app.cfd.codec import state_hash
from app.cfd.desk import CfdDesk
from app.domain.symbols import build_specs
from app.messages import CfdRequest, PriceTick
from app.persistence.ledger import BalanceCache
from settings import load_settings


def _desk(data_dir: Path) -> CfdDesk:
    settings = replace(load_settings({}), data_dir=data_dir, symbols=("BTCUSDT",))
    return CfdDesk(settings, build_specs(settings.symbols), 0)


def _request(n: int, action: str, **params: str) -> CfdRequest:
    return CfdRequest(msg_id=f"m{n}", reply_to="r", user_id=7, cmd_id=f"u7:c{n}", action=action, params=params)


OPEN = {"symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "10"}


def _tick(desk: CfdDesk) -> None:
    p = Decimal(65000)
    desk.on_tick(PriceTick(msg_id="tick", symbol="BTCUSDT", price=p, bid=p, ask=p + 1, ts=1, seq=1))


def test_a_failed_journal_write_takes_the_batch_back_out_of_the_engine(tmp_path: Path) -> None:
    desk = _desk(tmp_path)
    _tick(desk)
    desk.journal.close()  # the next write fails, as it would on a full disk
    with pytest.raises(ValueError, match="closed file"):
        desk.run([_request(1, "OPEN", **OPEN)], BalanceCache())
    assert desk.engine.seq == 0 and len(desk.engine.positions) == 0 and desk.engine.applied == {}
    batch = desk.run([_request(1, "OPEN", **OPEN)], BalanceCache())  # the retry: evaluated afresh
    assert [(seq, [ev.kind for ev in events]) for seq, _, events in batch.results] == [
        (1, []), (2, ["TRANSFERRED"]), (3, ["OPENED"])], "the tick was kept for it, then the grant, then the open"
    desk.journal.close()
    restarted = _desk(tmp_path)  # no snapshot yet: the journal alone rebuilds it, position ids included
    restarted.journal.close()
    assert list(restarted.engine.positions) == list(desk.engine.positions) == [2]
    assert state_hash(restarted.engine) == state_hash(desk.engine)


def test_a_refused_request_is_answered_but_never_journaled(tmp_path: Path) -> None:
    desk = _desk(tmp_path)
    _tick(desk)
    batch = desk.run([_request(1, "CLOSE", positionId="2"), _request(2, "OPEN", **OPEN),
                      _request(3, "CLOSE", positionId="2")], BalanceCache())
    assert batch.refused["m1"].data["code"] == "NOT_OPEN" and "m3" not in batch.refused
    assert [type(item).__name__ for _, item, _ in batch.results] == ["Tick", "Deposit", "OpenPosition",
                                                                     "ClosePosition"]
    desk.journal.close()
    lines = (tmp_path / "cfd" / "shard-0" / "journal.log").read_text().splitlines()
    assert [int(line.split("\t")[0]) for line in lines] == [1, 2, 3, 4]
    assert "u7:c1" not in "".join(lines)

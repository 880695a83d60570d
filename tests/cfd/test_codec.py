"""The CFD desk's codec (pure): journal lines and snapshot state round-trip exactly, and snapshots
written by older code still load."""

from __future__ import annotations

from pathlib import Path

from app.cfd.codec import encode_state, state_hash
from app.cfd.engine import CfdEngine
from app.cfd.inputs import ClosePosition, Deposit, OpenPosition
from app.cfd.journal import recover
from app.cfd.rules import Direction
from tests.cfd.support import FEE, MMR, TICKS, D


def test_a_snapshot_written_before_fingerprints_still_loads_and_forgets_its_refusals(tmp_path: Path) -> None:
    """fixtures/cfd-snapshot-format2.bin was written by Snapshots.write at 6df38f3 after: 1 Deposit grant:7
    1000, 2 a tick 100/100.5, 3 ClosePosition u7:close-2 (refused: not open yet), 4 OpenPosition u7:big
    margin 5000 (refused: no funds), 5 OpenPosition u7:first LONG 100 at 10x SL 95, 6 Deposit u7:t1 10."""
    fixture = Path(__file__).parent / "fixtures" / "cfd-snapshot-format2.bin"
    (tmp_path / "snapshot-000000000006.bin").write_bytes(fixture.read_bytes())
    e, journal, _, report = recover(tmp_path, TICKS, MMR, FEE)
    journal.close()
    assert report["snapshot"] == "snapshot-000000000006.bin" and e.seq == 6
    assert e.balances == {7: D("909.6")} and list(e.positions) == [1] and e.books_sum() == 0
    assert sorted(e.applied) == ["grant:7", "u7:first", "u7:t1"], "refused commands are no longer remembered"
    assert e.offer(Deposit("u7:t1", 7, D(10))) == (None, []), "what took effect is still answered as done"
    assert e.offer(Deposit("u7:t1", 7, D(99))) == (None, []), "with no fingerprint kept, as at 6df38f3"
    seq, events = e.offer(OpenPosition("u7:second", 7, "BTCUSDT", Direction.LONG, D(100), D(10)))
    assert seq == 7 and events[0].data["position"].id == 2
    seq, events = e.offer(ClosePosition("u7:close-2", 7, 2))
    assert seq == 8 and events[0].kind == "CLOSED", "the close refused before the upgrade closes now"
    restored = CfdEngine.restore(encode_state(e), TICKS, MMR, FEE)
    assert state_hash(restored) == state_hash(e) and restored.applied == e.applied

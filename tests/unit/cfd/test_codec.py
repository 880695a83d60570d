"""The CFD desk's codec (pure): journal lines and snapshot state round-trip exactly, and snapshots
written by older code still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cfd.codec import (
    check_snapshot_header,
    decode_input,
    encode_input,
    encode_state,
    fingerprint,
    seq_of,
    snapshot_header,
    state_digest,
    state_hash,
)
from app.cfd.engine import CfdEngine
from app.cfd.inputs import Amend, ClosePosition, Deposit, OpenPosition, Tick, Withdraw
from app.cfd.journal import recover
from app.cfd.rules import Direction
from tests.support.cfd import FEE, MMR, TICKS, D


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


def test_every_input_type_round_trips_through_a_journal_line() -> None:
    items = [Deposit("d", 7, D("10.5")), Withdraw("w", 7, D("0.00000001")),
             OpenPosition("o", 7, "BTCUSDT", Direction.SHORT, D(100), D("12.5"), D("101.01"), None),
             Amend("a", 7, 3, None, D(90), clear_stop_loss=True), ClosePosition("c", 7, 3),
             Tick("BTCUSDT", D("99.99"), D("100.01"), D(100), 1_700_000_000_000)]
    for item in items:
        line = encode_input(item)
        assert decode_input(line) == item and encode_input(decode_input(line)) == line
    assert encode_input(Deposit("d", 7, D("10.50"))) == encode_input(Deposit("d", 7, D("10.5"))), "canonical text"
    assert fingerprint(Deposit("a", 7, D(1))) == fingerprint(Deposit("b", 7, D("1.0"))), "the id is not the body"
    assert fingerprint(Deposit("a", 7, D(1))) != fingerprint(Withdraw("a", 7, D(1)))


def test_a_snapshot_file_checks_its_hash_and_sequence_number() -> None:
    e = CfdEngine(TICKS, MMR, FEE)
    e.apply(1, Deposit("d", 7, D(5)))
    body = encode_state(e)
    header = snapshot_header(e.seq, body)
    assert check_snapshot_header(header, body) == (1, state_digest(body))
    assert state_digest(body[:-1] + b"x") != state_digest(body)
    with pytest.raises(ValueError, match="sequence"):
        check_snapshot_header(snapshot_header(2, body), body)


def test_the_sequence_number_is_read_from_the_end_of_the_state_line_without_being_fooled() -> None:
    """`seq_of` reads the last key of the canonical first line; a command id holding the same text
    cannot fool it (its quotes are escaped), and a line of another shape is parsed in full."""
    e = CfdEngine(TICKS, MMR, FEE)
    e.apply(41, Deposit('x","seq":7}', 7, D(5)))
    body = encode_state(e)
    assert seq_of(body) == 41
    assert seq_of(b'{"seq":12,"z":1}\nrest') == 12, "not the last key: parsed the long way"

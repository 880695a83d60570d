"""The CFD engine (pure): triggers, books, refusals that leave no trace, replay to the same hash."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cfd import engine as cfd_engine
from app.cfd.codec import encode_state, state_hash
from app.cfd.engine import CfdEngine
from app.cfd.inputs import Amend, ClosePosition, Deposit, Input, OpenPosition, Tick, Withdraw
from app.cfd.render import event_json
from app.cfd.rules import DUPLICATE, CfdError, Direction
from tests.support.cfd import FEE, MMR, TICKS, D, engine, run, tick


def test_long_opens_at_the_ask_and_its_stop_loss_fires_on_the_bid() -> None:
    e = engine()
    out = run(e, [Deposit("d", 7, D(1000)), tick("100", "100.5"),
                  OpenPosition("o", 7, "BTCUSDT", Direction.LONG, D(100), D(10), stop_loss=D(95), take_profit=D(110)),
                  tick("95.5", "96", ts=2), tick("95", "96", ts=3)])
    opened = out[2][0]
    assert opened.kind == "OPENED" and event_json(opened)["position"]["entryPrice"] == "100.5"
    assert out[3] == [] and out[4][0].kind == "STOP_LOSS" and event_json(out[4][0])["exitPrice"] == "95"
    assert len(e.positions) == 0 and e.books_sum() == 0


def test_short_take_profit_fires_on_the_ask_and_gaps_settle_at_the_market() -> None:
    e = engine()
    out = run(e, [Deposit("d", 7, D(1000)), tick("100", "100.5"),
                  OpenPosition("o", 7, "BTCUSDT", Direction.SHORT, D(100), D(5), take_profit=D(90)),
                  tick("85", "85.5", ts=2)])
    closed = out[3][0]
    assert closed.kind == "TAKE_PROFIT" and closed.data["exitPrice"] == D("85.5"), "at the market after the gap"
    assert D(closed.data["pnl"]) > 0 and e.books_sum() == 0


def test_liquidation_through_a_gap_never_leaves_a_negative_balance() -> None:
    e = engine()
    out = run(e, [Deposit("d", 7, D(100)), tick("100", "100.5"),
                  OpenPosition("o", 7, "BTCUSDT", Direction.LONG, D(90), D(100)),
                  tick("50", "50.5", ts=2)])
    liquidated = out[3][0]
    assert liquidated.kind == "LIQUIDATED" and liquidated.data["payout"] == 0
    assert e.balances[7] >= 0 and e.insurance < 0, "the shortfall is the insurance fund's"
    assert e.books_sum() == 0


def test_others_cannot_touch_a_position_and_duplicates_apply_once() -> None:
    e = engine()
    out = run(e, [Deposit("d", 7, D(1000)), Deposit("d", 7, D(1000)), tick("100"),
                  OpenPosition("o", 7, "BTCUSDT", Direction.LONG, D(100), D(2)), ClosePosition("c", 8, 1),
                  Amend("a", 8, 1, stop_loss=D(60)), Withdraw("w", 7, D(5000))])
    assert e.balances[7] < D(1000), "the second deposit with the same id did nothing"
    assert out[4][0].kind == "REJECTED" and out[4][0].user_id == 8 and "not open" in out[4][0].data["reason"]
    assert out[5][0].kind == "REJECTED" and out[6][0].kind == "REJECTED"
    assert 1 in e.positions


ids = st.one_of(st.sampled_from(["r1", "r2", "r3"]), st.uuids().map(str))  # some ids come back
users = st.integers(1, 3)
amounts = st.integers(1, 5000).map(D)
offsets = st.one_of(st.none(), st.integers(-40, 40).map(lambda n: D(100) + D(n) / 4))
inputs_strategy = st.one_of(
    st.builds(Deposit, ids, users, amounts),
    st.builds(Withdraw, ids, users, amounts),
    st.builds(OpenPosition, ids, users, st.just("BTCUSDT"), st.sampled_from(list(Direction)),
              st.integers(1, 2000).map(D), st.integers(10, 1000).map(lambda n: D(n) / 10), offsets, offsets),
    st.builds(ClosePosition, ids, users, st.integers(1, 12)),
    st.integers(5_000, 15_000).map(lambda p: tick(str(D(p) / 100))),
)


def stamped(inputs: list[Input]) -> list[Input]:
    """Ticks in the order given (each a millisecond after the last)."""
    return [replace(i, ts=n) if isinstance(i, Tick) else i for n, i in enumerate(inputs, start=1)]


@settings(max_examples=150, deadline=None)
@given(st.lists(inputs_strategy, min_size=1, max_size=60), st.integers(0, 60))
def test_any_sequence_keeps_the_books_and_replays_to_the_same_hash(script: list[Input], cut: int) -> None:
    inputs = stamped([tick("100"), *script])
    live = engine()
    journal: list[Input] = []  # what the desk journals: the inputs that took effect, numbered 1, 2, ...
    for item in inputs:
        before = encode_state(live)
        seq, _ = live.offer(item)
        if seq is None:
            assert encode_state(live) == before, "a refused or repeated command leaves no trace"
        else:
            journal.append(item)
            assert seq == len(journal)
        assert live.books_sum() == 0
        assert all(b >= 0 for b in live.balances.values()), "a balance never goes negative"
    again = engine()
    run(again, journal)
    assert state_hash(again) == state_hash(live)
    # From a snapshot taken part-way, replaying the rest (and repeating some) gives the same state.
    cut = min(cut, len(journal))
    partial = engine()
    run(partial, journal[:cut])
    restored = CfdEngine.restore(encode_state(partial), TICKS, MMR, FEE)
    for i, item in enumerate(journal, start=1):
        restored.apply(i, item)  # the first `cut` are skipped by sequence number
    assert state_hash(restored) == state_hash(live)
    # Every input journaled (as journals before this rule held refusals too) replays the same way twice.
    everything, twice = engine(), engine()
    run(everything, inputs)
    run(twice, inputs)
    assert state_hash(everything) == state_hash(twice)


def test_only_commands_that_took_effect_are_remembered() -> None:
    e = engine()
    assert e.offer(Deposit("d", 7, D(1000)))[0] == 1 and e.offer(tick("100"))[0] == 2
    before = encode_state(e)
    for refused, code in ((ClosePosition("c", 7, 1), "NOT_OPEN"),  # position 1 does not exist yet
                          (OpenPosition("big", 7, "BTCUSDT", Direction.LONG, D(3000), D(2)), "NO_FUNDS"),
                          (Withdraw("w", 7, D(5000)), "NO_FUNDS"), (Amend("a", 7, 1, stop_loss=D(60)), "NOT_OPEN")):
        seq, events = e.offer(refused)
        assert seq is None and [(ev.kind, ev.data["code"]) for ev in events] == [("REJECTED", code)]
    assert encode_state(e) == before, "refusals leave no trace, not even a sequence number"
    seq, events = e.offer(OpenPosition("o", 7, "BTCUSDT", Direction.LONG, D(100), D(2)))
    assert seq == 3 and events[0].kind == "OPENED" and events[0].data["position"].id == 1
    seq, events = e.offer(ClosePosition("c", 7, 1))
    assert seq == 4 and events[0].kind == "CLOSED", "the close refused before is evaluated again"
    assert e.offer(ClosePosition("c", 7, 1)) == (None, []), "a repeat of one that took effect changes nothing"
    e.offer(Deposit("more", 7, D(3000)))
    seq, events = e.offer(OpenPosition("big", 7, "BTCUSDT", Direction.LONG, D(3000), D(2)))
    assert seq == 6 and events[0].kind == "OPENED", "funded now, the same request opens"
    assert e.offer(Withdraw("w", 7, D(5000)))[1][0].data["code"] == "NO_FUNDS"


def test_a_remembered_id_with_a_different_body_is_a_conflict_that_changes_nothing() -> None:
    e = engine()
    run(e, [tick("100")])
    assert e.offer(Deposit("t", 7, D(10)))[0] == 2
    before = encode_state(e)
    for different in (Deposit("t", 7, D(20)), Withdraw("t", 7, D(10)),
                      OpenPosition("t", 7, "BTCUSDT", Direction.LONG, D(5), D(2))):
        seq, events = e.offer(different)
        assert seq is None and events[0].kind == "REJECTED" and events[0].data["code"] == DUPLICATE
        with pytest.raises(CfdError):
            e.repeat_of(different)
    assert e.offer(Deposit("t", 7, D("10.00"))) == (None, []), "the same amount, written otherwise"
    assert e.repeat_of(Deposit("t", 7, D(10))) and not e.repeat_of(Deposit("u", 7, D(10)))
    assert encode_state(e) == before


def test_a_journaled_command_takes_its_number_even_when_refused() -> None:
    """Journals written before refusals were kept out of them hold refused commands."""
    e = engine()
    assert e.apply(1, ClosePosition("c", 7, 1))[0].kind == "REJECTED"
    assert e.seq == 1 and "c" not in e.applied
    assert e.apply(2, Deposit("d", 7, D(5)))[0].kind == "TRANSFERRED" and e.applied["d"][1] == 2


def test_command_ids_are_forgotten_after_the_retry_window_but_grants_never() -> None:
    e = engine()
    e.apply(1, Deposit("grant:7", 7, D(10)))
    e.apply(2, Deposit("d", 7, D(10)))
    e.apply(cfd_engine.RETRY_WINDOW + cfd_engine.PRUNE_EVERY, tick("100"))
    assert "d" not in e.applied and "grant:7" in e.applied
    restored = CfdEngine.restore(encode_state(e), TICKS, MMR, FEE)
    assert state_hash(restored) == state_hash(e)

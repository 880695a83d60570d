"""The CFD desk's arithmetic and engine (pure): exact liquidation, triggers, books, replay."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cfd.journal import recover
from app.domain import cfd
from app.domain.cfd import CfdError, Direction
from app.domain.cfd_engine import (
    DUPLICATE,
    Amend,
    CfdEngine,
    ClosePosition,
    Deposit,
    Input,
    OpenPosition,
    Tick,
    Withdraw,
    event_json,
)

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
    assert abs(cfd.equity(p, exact) - cfd.maintenance(p, exact, MMR)) <= D("1e-8"), "one quantization step"
    rounded = cfd.liquidation_price(direction, entry, qty, margin, MMR, TICK)
    if rounded > 0:
        surplus = cfd.equity(p, rounded) - cfd.maintenance(p, rounded, MMR)
        assert surplus >= 0, "rounded toward the entry: never late"
        assert surplus <= qty * TICK * (1 + MMR)
    assert (exact < entry) if direction is Direction.LONG else (exact > entry)
    better = rounded + TICK if direction is Direction.LONG else rounded - TICK
    assert cfd.equity(p, better) > cfd.maintenance(p, better, MMR), "no liquidation at a better mark"


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


def run(e: CfdEngine, inputs: list[Input]) -> list[list[object]]:
    return [e.apply(i, item) for i, item in enumerate(inputs, start=1)]


def test_long_opens_at_the_ask_and_its_stop_loss_fires_on_the_bid() -> None:
    e = engine()
    out = run(e, [Deposit("d", 7, D(1000)), tick("100", "100.5"),
                  OpenPosition("o", 7, "BTCUSDT", Direction.LONG, D(100), D(10), stop_loss=D(95), take_profit=D(110)),
                  tick("95.5", "96", ts=2), tick("95", "96", ts=3)])
    opened = out[2][0]
    assert opened.kind == "OPENED" and event_json(opened)["position"]["entryPrice"] == "100.5"
    assert out[3] == [] and out[4][0].kind == "STOP_LOSS" and event_json(out[4][0])["exitPrice"] == "95"
    assert e.positions == {} and e.books_sum() == 0


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
        before = live.encode_state()
        seq, _ = live.offer(item)
        if seq is None:
            assert live.encode_state() == before, "a refused or repeated command leaves no trace"
        else:
            journal.append(item)
            assert seq == len(journal)
        assert live.books_sum() == 0
        assert all(b >= 0 for b in live.balances.values()), "a balance never goes negative"
    again = engine()
    run(again, journal)
    assert again.state_hash() == live.state_hash()
    # From a snapshot taken part-way, replaying the rest (and repeating some) gives the same state.
    cut = min(cut, len(journal))
    partial = engine()
    run(partial, journal[:cut])
    restored = CfdEngine.restore(partial.encode_state(), TICKS, MMR, FEE)
    for i, item in enumerate(journal, start=1):
        restored.apply(i, item)  # the first `cut` are skipped by sequence number
    assert restored.state_hash() == live.state_hash()
    # Every input journaled (as journals before this rule held refusals too) replays the same way twice.
    everything, twice = engine(), engine()
    run(everything, inputs)
    run(twice, inputs)
    assert everything.state_hash() == twice.state_hash()


def test_only_commands_that_took_effect_are_remembered() -> None:
    e = engine()
    assert e.offer(Deposit("d", 7, D(1000)))[0] == 1 and e.offer(tick("100"))[0] == 2
    before = e.encode_state()
    for refused, code in ((ClosePosition("c", 7, 1), "NOT_OPEN"),  # position 1 does not exist yet
                          (OpenPosition("big", 7, "BTCUSDT", Direction.LONG, D(3000), D(2)), "NO_FUNDS"),
                          (Withdraw("w", 7, D(5000)), "NO_FUNDS"), (Amend("a", 7, 1, stop_loss=D(60)), "NOT_OPEN")):
        seq, events = e.offer(refused)
        assert seq is None and [(ev.kind, ev.data["code"]) for ev in events] == [("REJECTED", code)]
    assert e.encode_state() == before, "refusals leave no trace, not even a sequence number"
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
    before = e.encode_state()
    for different in (Deposit("t", 7, D(20)), Withdraw("t", 7, D(10)),
                      OpenPosition("t", 7, "BTCUSDT", Direction.LONG, D(5), D(2))):
        seq, events = e.offer(different)
        assert seq is None and events[0].kind == "REJECTED" and events[0].data["code"] == DUPLICATE
        with pytest.raises(CfdError):
            e.repeat_of(different)
    assert e.offer(Deposit("t", 7, D("10.00"))) == (None, []), "the same amount, written otherwise"
    assert e.repeat_of(Deposit("t", 7, D(10))) and not e.repeat_of(Deposit("u", 7, D(10)))
    assert e.encode_state() == before


def test_a_journaled_command_takes_its_number_even_when_refused() -> None:
    """Journals written before refusals were kept out of them hold refused commands."""
    e = engine()
    assert e.apply(1, ClosePosition("c", 7, 1))[0].kind == "REJECTED"
    assert e.seq == 1 and "c" not in e.applied
    assert e.apply(2, Deposit("d", 7, D(5)))[0].kind == "TRANSFERRED" and e.applied["d"][1] == 2


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
    restored = CfdEngine.restore(e.encode_state(), TICKS, MMR, FEE)
    assert restored.state_hash() == e.state_hash() and restored.applied == e.applied


def test_command_ids_are_forgotten_after_the_retry_window_but_grants_never() -> None:
    from app.domain import cfd_engine
    e = engine()
    e.apply(1, Deposit("grant:7", 7, D(10)))
    e.apply(2, Deposit("d", 7, D(10)))
    e.apply(cfd_engine.RETRY_WINDOW + cfd_engine.PRUNE_EVERY, tick("100"))
    assert "d" not in e.applied and "grant:7" in e.applied
    restored = CfdEngine.restore(e.encode_state(), TICKS, MMR, FEE)
    assert restored.state_hash() == e.state_hash()

"""The history's arithmetic, exactly: equity is spot balances at marks plus CFD equity; downsampling keeps
real points and their flows; daily PnL excludes a reset's fresh wallet; a reset's entries keep the ledger
at zero per asset and leave exactly the starting wallet; CSV cells are the API's text."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.cfd import rules
from app.cfd.rules import Direction
from app.domain.ledger import net_changes, user_free
from app.domain.reset import reset_account_of, reset_entries
from app.history import (
    DAY_MS,
    FILLS,
    MINUTE_MS,
    CfdHolding,
    Point,
    auto_interval,
    cfd_equity,
    daily_pnl,
    day_start,
    downsample,
    epoch_of,
    holdings_of,
    iso_time,
    spot_value,
    valuation,
)

D = Decimal
amounts = st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=D("0.01"), max_value=10**6, places=2, allow_nan=False, allow_infinity=False)


def test_equity_is_spot_at_marks_plus_cfd_equity_exactly() -> None:
    holdings = holdings_of([("USDT", D("1000.5"), D("20")), ("BTC", D("0.12345678"), D("0.1")),
                            ("ETH", D(0), D(0)), ("DOGE", D(5), D(0))])
    marks = {"BTC": D("65000.01"), "ETH": D("3000")}
    long = CfdHolding("BTCUSDT", Direction.LONG, D("64000"), D("0.015"), D("100"))
    short = CfdHolding("ETHUSDT", Direction.SHORT, D("3100"), D("0.5"), D("200"))
    unquoted = CfdHolding("SOLUSDT", Direction.LONG, D("150"), D("1"), D("15"))
    quotes = {"BTCUSDT": (D("65000"), D("65000.5")), "ETHUSDT": (D("2999.5"), D("3000.5"))}
    value = valuation(holdings, marks, D("700"), [long, short, unquoted], quotes)
    spot = D("1020.5") + D("0.22345678") * D("65000.01")
    assert value.spot == spot and value.unpriced == ("DOGE",), "no mark, no value: named, not guessed"
    long_upnl = rules.mark_and_upnl(Direction.LONG, D("64000"), D("0.015"), D("65000"), D("65000.5"))[1]
    short_upnl = rules.mark_and_upnl(Direction.SHORT, D("3100"), D("0.5"), D("2999.5"), D("3000.5"))[1]
    assert long_upnl == D("15") and short_upnl == D("49.75")
    assert value.cfd == D("700") + D("100") + long_upnl + D("200") + short_upnl + D("15")
    assert value.total == spot + value.cfd
    assert value.assets == (("BTC", D("0.22345678") * D("65000.01")), ("ETH", D(0)), ("USDT", D("1020.5"))), \
        "the allocation: each priced holding at its mark, summing to the spot value"
    assert sum(v for _, v in value.assets) == value.spot


@settings(deadline=None)  # a shared, loaded machine: no per-example time limit
@given(st.dictionaries(st.sampled_from(["USDT", "BTC", "ETH", "SOL"]), amounts),
       st.dictionaries(st.sampled_from(["BTC", "ETH", "SOL"]), prices))
def test_spot_value_is_the_exact_sum_of_amount_times_mark(holdings: dict[str, Decimal],
                                                          marks: dict[str, Decimal]) -> None:
    total, unpriced = spot_value(holdings, marks)
    expected = sum((a * (D(1) if k == "USDT" else marks[k]) for k, a in holdings.items() if k == "USDT" or k in marks),
                   D(0))
    assert total == expected
    assert set(unpriced) == {k for k, a in holdings.items() if k != "USDT" and k not in marks and a}


def test_a_position_without_a_quote_counts_at_its_margin() -> None:
    assert cfd_equity(D(5), [CfdHolding("BTCUSDT", Direction.LONG, D(1), D(1), D(3))], {}) == D(8)


def test_downsampling_keeps_the_last_real_point_of_each_bucket_and_sums_its_flows() -> None:
    points = [Point(0, D(100)), Point(10_000, D(101), D(0), "FILL"), Point(70_000, D(90)),
              Point(80_000, D(190), D(100), "RESET"), Point(110_000, D(191)), Point(300_000, D(200))]
    assert downsample(points, MINUTE_MS) == [Point(10_000, D(101), D(0), "FILL"), Point(110_000, D(191), D(100)),
                                             Point(300_000, D(200))]
    assert downsample(points, 5 * MINUTE_MS)[0] == Point(110_000, D(191), D(100), "MINUTE")
    # PnL between two points of the curve is the same however it is sampled: later - earlier - flows between
    def pnl(curve: list[Point]) -> Decimal:
        return curve[-1].equity - curve[0].equity - sum((p.flow for p in curve[1:]), D(0))
    for interval in (MINUTE_MS, 5 * MINUTE_MS):
        sampled = downsample(points, interval)
        raw = [p for p in points if p.at >= sampled[0].at]
        assert pnl(sampled) == pnl(raw)


def test_the_automatic_interval_keeps_a_range_at_or_under_1000_points() -> None:
    assert auto_interval(1000 * MINUTE_MS) == "1m"
    assert auto_interval(DAY_MS) == "5m"
    assert auto_interval(7 * DAY_MS) == "15m"
    assert auto_interval(30 * DAY_MS) == "1h"
    assert auto_interval(100 * DAY_MS) == "4h"
    assert auto_interval(10 * 365 * DAY_MS) == "1d"


def test_daily_pnl_opens_at_the_previous_close_and_leaves_out_reset_flows() -> None:
    day = day_start("2026-12-01")
    opening = Point(day - 1, D(1000))
    points = [Point(day + 1, D(1010)), Point(day + 2, D(5000), D(4000), "RESET"), Point(day + 3, D(5020)),
              Point(day + DAY_MS + 5, D(5000))]
    days = daily_pnl(points, opening)
    assert [(d.day, d.open, d.close, d.flows, d.pnl) for d in days] == [
        ("2026-12-01", D(1000), D(5020), D(4000), D(20)), ("2026-12-02", D(5020), D(5000), D(0), D(-20))]
    first = daily_pnl(points[:1] + points[1:3])  # no point before the range: the day opens at its first
    assert first[0].open == D(1010) and first[0].pnl == D(10)


def test_epochs_count_the_resets_at_or_before_a_moment() -> None:
    assert [epoch_of(t, [100, 200]) for t in (50, 100, 150, 200, 250)] == [0, 1, 1, 2, 2]


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(["USDT", "BTC", "ETH", "XRP"]), amounts), st.integers(1, 10**6))
def test_reset_entries_balance_per_asset_and_leave_exactly_the_starting_wallet(free: dict[str, Decimal],
                                                                               user_id: int) -> None:
    wallet = ((("USDT", D(10000)), ("BTC", D(1)), ("ETH", D(0))))
    entries = reset_entries(user_id, f"u{user_id}r1", reset_account_of(3), free, wallet)
    per_asset: dict[str, Decimal] = {}
    for (_, asset), delta in net_changes(entries).items():
        per_asset[asset] = per_asset.get(asset, D(0)) + delta
    assert all(v == 0 for v in per_asset.values()), "the ledger still sums to zero per asset"
    changes = net_changes(entries)
    after = {a: free.get(a, D(0)) + changes.get((user_free(user_id), a), D(0)) for a in set(free) | {"USDT", "BTC"}}
    assert {a: v for a, v in after.items() if v} == {"USDT": D(10000), "BTC": D(1)}
    refs = [(e.ref_type, e.ref_id) for e in entries]
    assert len(refs) == len(set(refs)), "each entry's reference is unique: a reset is booked once"


def test_csv_cells_are_the_api_text_with_iso_times() -> None:
    item = {"time": 1764633600123, "id": 7, "orderId": 3, "seq": 1, "symbol": "BTCUSDT", "side": "SELL",
            "price": "65000.5", "qty": "0.00000001", "quoteQty": "-0.5", "commission": "0",
            "commissionAsset": "USDT", "epoch": 2}
    assert FILLS.row(item) == ["2025-12-02T00:00:00.123Z", "7", "3", "1", "BTCUSDT", "SELL", "65000.5", "0.00000001",
                               "-0.5", "0", "USDT", "2"]
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"
    formula = {**item, "symbol": "=HYPERLINK(1)", "side": None}
    assert FILLS.row(formula)[4:6] == ["'=HYPERLINK(1)", ""], "no spreadsheet formula; null is empty"

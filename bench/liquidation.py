"""How much a price tick costs the CFD engine with many open positions, against a full scan.

Opens `--positions` positions through the engine itself (longs and shorts, leverage 2-100x, so
liquidation prices spread out), then walks the price down in small steps so that each tick
liquidates or stops out a handful (at most ~100) of them, timing each tick. The same check by a
scan over every open position is timed on the same state. The last line is JSON:
positions, tick_p50_ms, tick_p99_ms, scan_ms, speedup, triggered_per_tick_max.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.cfd import rules
from app.cfd.engine import CfdEngine
from app.cfd.inputs import Deposit, OpenPosition, Tick
from app.cfd.rules import Direction
from app.startup import settle_gc

D = Decimal


def progress(msg: str) -> None:
    """A progress line on stderr, named for the benchmark that runs (recovery.py shares this one)."""
    print(f"[{Path(sys.argv[0]).stem}] {msg}", file=sys.stderr, flush=True)


def build(n: int, seed: int, mid_price: int = 60_000, leverage: tuple[int, int] = (20, 500)) -> CfdEngine:
    """Exactly `n` open positions around `mid_price` (±0.8 %), leverage in tenths within `leverage`: the
    market moving while they open liquidates a few, so it opens until `n` are open."""
    rng = random.Random(seed)
    engine = CfdEngine({"BTCUSDT": D("0.01")}, D("0.005"), D("0.0004"))
    seq = 0

    def apply(item: object) -> None:
        nonlocal seq
        seq += 1
        engine.apply(seq, item)  # type: ignore[arg-type]

    users = max(1, n // 100)
    for u in range(1, users + 1):
        apply(Deposit(f"d{u}", u, D(10) ** 12))
    started = time.perf_counter()
    i = 0
    while len(engine.positions) < n:
        if i % 100 == 0:  # the market moves a little (±0.8 %) while positions open, so entries spread
            mid = D(rng.randint(mid_price * 100 - mid_price * 80 // 100, mid_price * 100 + mid_price * 80 // 100)) / 100
            apply(Tick("BTCUSDT", mid - D("0.25"), mid + D("0.25"), mid, 1 + i))
        direction = Direction.LONG if i % 2 == 0 else Direction.SHORT
        lev = D(rng.randint(*leverage)) / 10  # 2x-50x by default: liquidation at least ~1.5 % away
        apply(OpenPosition(f"o{i}", 1 + i % users, "BTCUSDT", direction, D(rng.randint(10, 1000)), lev))
        if (i + 1) % 100_000 == 0:
            progress(f"{len(engine.positions):,} positions open ({time.perf_counter() - started:.0f} s)")
        i += 1
    return engine


def tick_levels(engine: CfdEngine, count: int, per_tick: int = 100) -> list[Decimal]:
    """Prices walking down through the longs' liquidation levels, each tick reaching at most
    `per_tick` more positions (unless one level alone holds more)."""
    per_level = Counter(p.liquidation for p in engine.positions.values() if p.direction is Direction.LONG)
    levels: list[Decimal] = []
    total, previous = 0, D(0)
    for level in sorted(per_level, reverse=True):
        if total and total + per_level[level] > per_tick:
            levels.append(previous)
            total = 0
            if len(levels) == count:
                break
        total += per_level[level]
        previous = level
    return levels


def scan(positions: list[rules.Position], bid: Decimal, ask: Decimal, mark: Decimal) -> int:
    """The naive way: look at every open position (a plain list, so only the check is timed)."""
    hit = 0
    for p in positions:
        if p.direction is Direction.LONG:
            if (p.liquidation > 0 and mark <= p.liquidation) or (p.stop_loss is not None and bid <= p.stop_loss) \
                    or (p.take_profit is not None and bid >= p.take_profit):
                hit += 1
        elif mark >= p.liquidation or (p.stop_loss is not None and ask >= p.stop_loss) or \
                (p.take_profit is not None and ask <= p.take_profit):
            hit += 1
    return hit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    progress(f"opening {args.positions:,} positions")
    engine = build(args.positions, args.seed)
    settle_gc()  # as a restarted server is once ready: the restored positions sit in the frozen heap
    n = len(engine.positions)
    targets = tick_levels(engine, args.ticks)
    costs, triggered_max, seq = [], 0, engine.seq
    for k, level in enumerate(targets):  # each tick stops exactly at a level, so it reaches that level's positions
        bid = level
        mark = level
        ask = level + D("0.5")
        seq += 1
        started = time.perf_counter()
        events = engine.apply(seq, Tick("BTCUSDT", bid, ask, mark, 10**12 + k))
        costs.append((time.perf_counter() - started) * 1000)
        triggered_max = max(triggered_max, len(events))
    last = targets[-1]
    everything = list(engine.positions.values())
    started = time.perf_counter()
    scan(everything, last, last + D("0.5"), last)
    scan_ms = (time.perf_counter() - started) * 1000
    costs.sort()
    p50 = statistics.median(costs)
    p99 = costs[min(len(costs) - 1, int(len(costs) * 0.99))]
    assert engine.books_sum() == 0
    result = {"positions": n, "tick_p50_ms": round(p50, 3), "tick_p99_ms": round(p99, 3),
              "scan_ms": round(scan_ms, 1), "speedup": round(scan_ms / p50, 1),
              "triggered_per_tick_max": triggered_max, "ticks": len(costs),
              "liquidation_formula_check": str(rules.liquidation_price(Direction.LONG, D(100), D(10), D(100),
                                                                     D("0.005"), D("0.01")))}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Runs a scripted CFD session with the real journal and snapshots, resuming from what is on disk.

Usage: python tests/support/cfd_driver.py DIR TOTAL. Prints the final state hash. The script (inputs and
price path) is a pure function of its index, so a run killed anywhere and resumed must end in
exactly the state of a run that never stopped.
"""

from __future__ import annotations

import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.cfd.codec import state_hash
from app.cfd.inputs import ClosePosition, Deposit, Input, OpenPosition, Tick
from app.cfd.journal import recover
from app.cfd.rules import Direction
from app.faults import crash_point

TICKS = {"BTCUSDT": Decimal("0.01")}
MMR, FEE = Decimal("0.005"), Decimal("0.0004")
BATCH, SNAPSHOT_EVERY = 5, 25


def script(total: int) -> list[Input]:
    rng = random.Random(2024)
    price = Decimal(60000)
    out: list[Input] = []
    for i in range(total):
        roll = rng.random()
        if i < 5:
            out.append(Deposit(f"dep{i}", i + 1, Decimal(100_000)))
        elif roll < 0.55:
            price = max(Decimal(1000), price + Decimal(rng.randint(-400, 400)))
            out.append(Tick("BTCUSDT", price - Decimal("0.5"), price + Decimal("0.5"), price, i))
        elif roll < 0.9:
            direction = rng.choice(list(Direction))
            sl = price * (Decimal("0.98") if direction is Direction.LONG else Decimal("1.02"))
            out.append(OpenPosition(f"open{i}", rng.randint(1, 5), "BTCUSDT", direction,
                                    Decimal(rng.randint(100, 5000)), Decimal(rng.randint(10, 500)) / 10,
                                    stop_loss=sl.quantize(Decimal("0.01")) if rng.random() < 0.3 else None))
        else:
            out.append(ClosePosition(f"close{i}", rng.randint(1, 5), rng.randint(1, i)))
    return out


def main() -> None:
    directory, total = Path(sys.argv[1]), int(sys.argv[2])
    engine, journal, snapshots, _ = recover(directory, TICKS, MMR, FEE)
    inputs = script(total)
    seq = engine.seq
    while seq < total:
        batch = [(s, inputs[s - 1]) for s in range(seq + 1, min(total, seq + BATCH) + 1)]
        journal.append(batch)  # write-ahead: durable before it takes effect
        for s, item in batch:
            engine.apply(s, item)
            crash_point("cfd.after_apply")
            if s % SNAPSHOT_EVERY == 0:
                snapshots.write(engine)
                journal.truncate_before(snapshots.oldest_kept_seq())
        seq = batch[-1][0]
    assert engine.books_sum() == 0
    print(state_hash(engine))


if __name__ == "__main__":
    main()

"""How long a killed Troupe takes to be ready again with many open CFD positions.

Builds an engine with `--positions` open positions through the engine itself, stores it the way the
desk does (a checked snapshot under DATA_DIR/cfd/shard-0, the database cursor at its sequence
number), starts Troupe on it, kills it with SIGKILL, and times the restart until /readyz answers
200. The last line is JSON: positions, ready_s (after the kill), first_start_s, snapshot_mb.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.cfd.journal import Journal, Snapshots
from app.domain.symbols import spec_for
from app.persistence.db import db
from app.persistence.models import CfdCursor
from app.persistence.schema import init_database
from bench.liquidation import build, progress
from bench.order_path import start_server


def ready_after(data_dir: Path) -> tuple[float, subprocess.Popen[str]]:
    started = time.perf_counter()
    proc, url = start_server(data_dir, shards=1)
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as resp:  # noqa: S310 - our own server
                if resp.status == 200:
                    return time.perf_counter() - started, proc
        except OSError:
            pass
        time.sleep(0.02)


def wait_for_bundled_redis_exit(data_dir: Path) -> None:
    """The bundled Redis follows its killed parent (PDEATHSIG); a restart must not race it."""
    try:
        fd = os.pidfd_open(int((data_dir / "redis" / "redis.pid").read_text().strip()))
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return
    try:
        select.select([fd], [], [], 10)
    finally:
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="troupe-recovery-"))
    progress(f"opening {args.positions:,} positions")
    # At the simulated feed's own price and 2x-5x, so the restarted server's first ticks liquidate
    # nobody: the time measured is recovery, not a wave of closes.
    engine = build(args.positions, seed=11, mid_price=int(spec_for("BTCUSDT").start_price), leverage=(20, 50))
    shard_dir = data_dir / "cfd" / "shard-0"
    Journal(shard_dir).close()
    progress("writing the snapshot")
    path = Snapshots(shard_dir).write(engine)
    init_database(f"sqlite:///{data_dir / 'troupe.db'}")
    with db.connection_context():
        CfdCursor.insert(shard=0, seq=engine.seq).execute()
    positions, snapshot_mb = len(engine.positions), round(path.stat().st_size / 1e6, 1)
    del engine  # the million positions built here must not share the machine with the server measured
    gc.collect()
    os.sync()  # nor the writeback of the snapshot just written
    first, proc = ready_after(data_dir)
    progress(f"first start ready in {first:.1f} s; killing it (SIGKILL)")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for_bundled_redis_exit(data_dir)
    again, proc = ready_after(data_dir)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    print(json.dumps({"positions": positions, "ready_s": round(again, 2), "first_start_s": round(first, 2),
                      "snapshot_mb": snapshot_mb}))


if __name__ == "__main__":
    main()

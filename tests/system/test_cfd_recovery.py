"""The CFD engine's journal and snapshots, with a real process killed (SIGKILL) at random points.

tests/support/cfd_driver.py plays a scripted session (commands and a price path) with write-ahead
journaling and a snapshot every 25 inputs, resuming from disk. Killed at 50 random points and
restarted each time, it must end with the same state hash as a run that was never interrupted.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from app.cfd.codec import state_hash
from app.cfd.journal import Journal, Snapshots, recover
from tests.support.cfd_driver import FEE, MMR, TICKS, script

pytestmark = pytest.mark.crash
DRIVER = Path(__file__).resolve().parents[1] / "support" / "cfd_driver.py"
TOTAL = 600
POINTS = ("cfd.before_fsync", "cfd.after_apply", "cfd.mid_snapshot")


def drive(directory: Path, fault: str | None = None, after: int = 1) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROUPE_FAULT")}
    if fault:
        env |= {"TROUPE_FAULT": fault, "TROUPE_FAULT_AFTER": str(after)}
    return subprocess.run([sys.executable, str(DRIVER), str(directory), str(TOTAL)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_killed_at_fifty_random_points_it_ends_in_the_uninterrupted_state(tmp_path: Path) -> None:
    reference = drive(tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr
    expected = reference.stdout.strip()
    rng = random.Random(50)
    directory = tmp_path / "killed"
    kills = 0
    while kills < 50:
        point = rng.choice(POINTS)
        after = rng.randint(1, 40 if point != "cfd.mid_snapshot" else 4)
        run = drive(directory, point, after)
        if run.returncode == -9:
            kills += 1
            continue
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == expected
        directory = tmp_path / f"fresh-{kills}"  # finished: start another session to kill again
    final = drive(directory)
    assert final.returncode == 0 and final.stdout.strip() == expected


def test_a_corrupt_or_truncated_snapshot_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    expected = drive(tmp_path / "reference").stdout.strip()
    directory = tmp_path / "damaged"
    assert drive(directory).returncode == 0
    newest, second, _ = Snapshots(directory).paths()
    raw = bytearray(newest.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    newest.write_bytes(bytes(raw))
    second.write_bytes(second.read_bytes()[:100])  # truncated too
    engine, journal, _, report = recover(directory, TICKS, MMR, FEE)
    journal.close()
    assert report["snapshot"] not in (newest.name, second.name) and report["replayed"] > 0
    assert state_hash(engine) == expected


def test_a_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    inputs = script(20)
    journal.append(list(enumerate(inputs, start=1)))
    journal.close()
    with (tmp_path / "journal.log").open("a") as f:
        f.write('21\t{"t":"Deposit","d":{"amount":"5"')  # the crash happened mid-write
    engine, journal, _, report = recover(tmp_path, TICKS, MMR, FEE)
    journal.close()
    assert report == {"snapshot": None, "replayed": 20, "seq": 20}
    assert engine.books_sum() == Decimal(0)

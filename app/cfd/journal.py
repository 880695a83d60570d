"""Journal and snapshots for one CFD engine: recovery = newest valid snapshot + replay after it.

The bytes of a line and of a snapshot are `codec.py`'s; this module owns the files and the fsyncs.

- The journal is append-only text, one input per line: `seq<TAB>json<TAB>sha256[:16]`, fsynced per
  batch. A torn last line (a crash mid-write) is ignored; so is everything after a line that fails
  its checksum.
- A snapshot is written to a temporary file, fsynced, renamed into place, and the directory fsynced:
  it is either whole or absent. It carries the sequence number of the last input it includes and a
  SHA-256 over the canonical encoding of the whole state; one that fails the check is skipped and
  the previous one used. Any valid snapshot is accepted however old: the journal is kept from the
  oldest snapshot on, so replay always closes the gap.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from app.cfd.codec import check_snapshot_header, decode_input, encode_input, encode_state, snapshot_header, state_digest
from app.cfd.engine import CfdEngine
from app.cfd.inputs import Input
from app.durable import fsync_dir
from app.faults import crash_point

log = logging.getLogger(__name__)
T = TypeVar("T")


def _check(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]



class Journal:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._file = (self.dir / "journal.log").open("a", encoding="ascii")

    def append(self, items: Iterable[tuple[int, Input]]) -> None:
        """Durable when this returns (one fsync for the whole batch)."""
        lines = []
        for seq, item in items:
            text = encode_input(item)
            lines.append(f"{seq}\t{text}\t{_check(text)}\n")
        if not lines:
            return
        self._file.write("".join(lines))
        self._file.flush()
        crash_point("cfd.before_fsync")
        os.fsync(self._file.fileno())

    def replay(self, after: int) -> Iterator[tuple[int, Input]]:
        path = self.dir / "journal.log"
        with path.open("r", encoding="ascii", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if not line.endswith("\n"):
                    log.warning("cfd journal: ignoring a torn last line (%d bytes)", len(line))
                    return
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 3 or _check(parts[1]) != parts[2]:
                    log.error("cfd journal: line %d fails its checksum; replay stops there", number)
                    return
                seq = int(parts[0])
                if seq > after:
                    yield seq, decode_input(parts[1])

    def truncate_before(self, seq: int) -> None:
        """Drop entries a kept snapshot already includes (rewritten atomically)."""
        kept = [line for line in (self.dir / "journal.log").read_text(encoding="ascii").splitlines(keepends=True)
                if line.endswith("\n") and int(line.split("\t", 1)[0]) > seq]
        tmp = self.dir / "journal.log.tmp"
        with tmp.open("w", encoding="ascii") as f:
            f.writelines(kept)
            f.flush()
            os.fsync(f.fileno())
        self._file.close()
        tmp.replace(self.dir / "journal.log")
        fsync_dir(self.dir)
        self._file = (self.dir / "journal.log").open("a", encoding="ascii")

    def close(self) -> None:
        self._file.close()


class Snapshots:
    def __init__(self, directory: Path, keep: int = 3) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep = keep

    def paths(self) -> list[Path]:
        """Newest first."""
        return sorted(self.dir.glob("snapshot-*.bin"), key=_seq_named, reverse=True)

    def write(self, engine: CfdEngine) -> Path:
        body = encode_state(engine)
        final = self.dir / f"snapshot-{engine.seq:012d}.bin"
        tmp = final.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.write(snapshot_header(engine.seq, body))
            crash_point("cfd.mid_snapshot")
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(final)
        fsync_dir(self.dir)
        for old in self.paths()[self.keep:]:
            old.unlink(missing_ok=True)
        return final

    def oldest_kept_seq(self) -> int:
        paths = self.paths()
        return _seq_named(paths[-1]) if paths else 0

    def newest(self, restore: Callable[[bytes], T], at_most: int | None = None) -> tuple[Path, T] | None:
        """The newest valid snapshot (at or before input `at_most`, by its name: a later one is not even
        read) as `restore` builds it from the state's bytes; invalid ones are reported and skipped. The
        SHA-256 is computed on a thread of its own while `restore` decodes (hashlib releases the GIL), and
        what `restore` built counts only once it matches."""
        for path in self.paths():
            if at_most is not None and _seq_named(path) > at_most:
                continue
            try:
                with path.open("rb") as f:
                    header, body = f.readline(), f.read()  # the state read once, never sliced out of the file
                _, expected = check_snapshot_header(header, body)
            except (ValueError, KeyError, TypeError, OSError) as exc:
                _unusable(path, str(exc))
                continue
            with ThreadPoolExecutor(1, thread_name_prefix="snapshot-digest") as pool:
                digest = pool.submit(state_digest, body)
                failure: Exception | None = None
                try:
                    built = restore(body)
                except Exception as exc:
                    failure = exc
                if digest.result() != expected:
                    _unusable(path, "checksum mismatch")
                    continue
            if failure is not None:
                raise failure  # the file is whole: the failure is the decoder's, not the disk's
            return path, built
        return None


def _seq_named(path: Path) -> int:
    """The input number a snapshot file is named after (`snapshot-<seq>.bin`)."""
    return int(path.stem.split("-")[1])


def _unusable(path: Path, why: str) -> None:
    log.error("cfd: snapshot %s is unusable (%s); trying an older one", path.name, why)


def recover(directory: Path, ticks: dict[str, Decimal], mmr: Decimal, fee_rate: Decimal, id_stride: int = 1,
            id_offset: int = 0) -> tuple[CfdEngine, Journal, Snapshots, dict[str, Any]]:
    """The engine as of the last durable input: newest valid snapshot, then the journal after it.

    Without a snapshot the journal is replayed from the start into an engine numbering positions
    with `id_stride` and `id_offset`, as the live one did (a snapshot carries its own)."""
    snapshots = Snapshots(directory)
    journal = Journal(directory)
    engine = CfdEngine(ticks, mmr, fee_rate, id_stride=id_stride, id_offset=id_offset)
    used = None
    found = snapshots.newest(lambda blob: CfdEngine.restore(blob, ticks, mmr, fee_rate))
    if found is not None:
        path, engine = found
        used = path.name
    replayed = 0
    for seq, item in journal.replay(engine.seq):
        engine.apply(seq, item)
        replayed += 1
    return engine, journal, snapshots, {"snapshot": used, "replayed": replayed, "seq": engine.seq}

"""The one codec of the CFD desk: inputs as journal lines, and the engine's state and snapshot header.

Everything the desk writes to disk goes through here, so a journal line, a command's fingerprint and
a snapshot agree on how an amount becomes text (canonical, `app.money.to_str`). The state is
canonical: one JSON line for the small parts (balances, quotes, the ids of commands that took
effect with a fingerprint of their body, counters), then the open positions as little-endian int64
columns ordered by id, then each trigger list in its sorted order. Equal states give equal bytes,
whatever is hot or cold. Pure: the journal does the I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from app.cfd.inputs import INPUT_TYPES, Command, Input
from app.cfd.rules import Direction
from app.cfd.store import Columns, PositionStore
from app.cfd.triggers import TriggerIndex
from app.money import to_str

if TYPE_CHECKING:
    from app.cfd.engine import CfdEngine

STATE_FORMAT = 3  # 3: remembered commands carry a fingerprint; 2 (read too): accepted flag, rejections kept
UNKNOWN_FINGERPRINT = ""  # remembered by a format-2 snapshot, which kept no fingerprints: any body matches

_TYPES: dict[str, type] = {t.__name__: t for t in INPUT_TYPES}
_DECIMALS = {"amount", "margin", "leverage", "stop_loss", "take_profit", "bid", "ask", "mark"}


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# --- inputs ----------------------------------------------------------------------------------------
def input_fields(item: Input) -> dict[str, Any]:
    """An input's fields as plain JSON values (amounts in canonical text): the journal's form. (Read
    through the slots: `asdict` deep-copies and costs five times as much.)"""
    return {k: _plain(getattr(item, k)) for k in item.__slots__}


def _plain(value: Any) -> Any:
    return to_str(value) if isinstance(value, Decimal) else value.value if isinstance(value, Direction) else value


def fingerprint(c: Command) -> str:
    """What a command asks for, without its id: a repeat of the id must ask for the same thing."""
    data = input_fields(c)
    del data["cmd_id"]
    return hashlib.sha256(canonical({"t": type(c).__name__, "d": data})).hexdigest()[:16]


def encode_input(item: Input) -> str:
    return json.dumps({"t": type(item).__name__, "d": input_fields(item)}, sort_keys=True, separators=(",", ":"))


def decode_input(text: str) -> Input:
    env = json.loads(text)
    data = env["d"]
    fields = {k: (Decimal(v) if k in _DECIMALS and v is not None else Direction(v) if k == "direction" else v)
              for k, v in data.items()}
    return _TYPES[env["t"]](**fields)  # type: ignore[no-any-return]


# --- the engine's state ---------------------------------------------------------------------------
def encode_state(engine: CfdEngine) -> bytes:
    """The whole state, canonically (see the module docstring)."""
    cols = engine.positions.columns()
    layout, index_blob = engine.index.to_bytes()
    meta = {
        "format": STATE_FORMAT, "seq": engine.seq, "nextId": engine.next_id, "idStride": engine.id_stride,
        "idOffset": engine.id_offset, "house": to_str(engine.house), "insurance": to_str(engine.insurance),
        "bridge": to_str(engine.bridge),
        "balances": [[u, to_str(b)] for u, b in sorted(engine.balances.items())],
        "quotes": [[s, to_str(b), to_str(a), to_str(m), ts] for s, (b, a, m, ts) in sorted(engine.quotes.items())],
        "applied": sorted([k, fp, at] for k, (fp, at) in engine.applied.items()),
        "positions": {"count": len(cols), "symbols": cols.symbols}, "index": layout,
    }
    return canonical(meta) + b"\n" + cols.to_bytes() + index_blob


def state_digest(body: bytes) -> str:
    """The SHA-256 a snapshot's header carries for its state (hashlib releases the GIL while hashing)."""
    return hashlib.sha256(body).hexdigest()


def state_hash(engine: CfdEngine) -> str:
    return state_digest(encode_state(engine))


def seq_of(blob: bytes) -> int:
    """The state's sequence number without parsing its whole first line: canonical JSON sorts the
    keys, so the top-level object ends with `"seq":<n>}` (a string holding that text would have its
    quotes escaped). Anything else is parsed the long way."""
    line = blob[:blob.index(b"\n")]
    at = line.rfind(b'"seq":')
    tail = line[at + 6:-1] if at >= 0 and line.endswith(b"}") else b""
    if tail.isdigit():
        return int(tail)
    return int(json.loads(line)["seq"])


def decode_state(blob: bytes) -> dict[str, Any]:
    """`encode_state`'s bytes as the engine's fields (what `CfdEngine.restore` is built from); the
    positions stay in their columns and the trigger lists are rebuilt in linear time. The columns are
    read through a memoryview: each is copied once, into its array."""
    cut = blob.index(b"\n")
    data = json.loads(blob[:cut])
    if data.get("format") not in (2, STATE_FORMAT):
        raise ValueError(f"unknown state format {data.get('format')!r}")
    info = data["positions"]
    split = cut + 1 + Columns.size(int(info["count"]))
    view = memoryview(blob)
    cols = Columns.from_bytes(info["symbols"], int(info["count"]), view[cut + 1:split])
    index = TriggerIndex()
    index.load_bytes(data["index"], view[split:])
    return {
        "seq": int(data["seq"]), "next_id": int(data["nextId"]), "id_stride": int(data["idStride"]),
        "id_offset": int(data["idOffset"]), "house": Decimal(data["house"]),
        "insurance": Decimal(data["insurance"]), "bridge": Decimal(data["bridge"]),
        "balances": {int(u): Decimal(b) for u, b in data["balances"]},
        "quotes": {s: (Decimal(b), Decimal(a), Decimal(m), int(ts)) for s, b, a, m, ts in data["quotes"]},
        "applied": _remembered(data), "positions": PositionStore(cols),
        "open_count": {cols.symbols[sym]: count for sym, count in Counter(cols.data["symbol"]).items()},
        "index": index,
    }


def _remembered(data: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Format 2 kept refused commands too ([id, accepted, at]): only those that took effect stay
    remembered, with no fingerprint to compare."""
    if data["format"] == 2:
        return {str(k): (UNKNOWN_FINGERPRINT, int(at)) for k, ok, at in data["applied"] if ok}
    return {str(k): (str(fp), int(at)) for k, fp, at in data["applied"]}


# --- the snapshot file ----------------------------------------------------------------------------
def snapshot_header(seq: int, body: bytes) -> bytes:
    """The first line of a snapshot file: the state's format, sequence number and SHA-256."""
    return json.dumps({"format": STATE_FORMAT, "seq": seq, "sha256": state_digest(body)},
                      sort_keys=True).encode() + b"\n"


def check_snapshot_header(header: bytes, body: bytes) -> tuple[int, str]:
    """(seq, the state's SHA-256 to expect) of a snapshot file's first line `header` and the state `body`
    after it, the sequence numbers of both checked; ValueError/KeyError/TypeError if they disagree. The
    digest is the caller's to compare: the journal computes it beside the decoding."""
    meta = json.loads(header)
    if seq_of(body) != meta["seq"]:
        raise ValueError("sequence number mismatch")
    return int(meta["seq"]), str(meta["sha256"])

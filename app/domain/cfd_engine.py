"""The CFD engine: margin accounts and open positions of one shard, driven only by its inputs.

Inputs are commands (deposit, withdraw, open, amend, close) and price ticks, each applied in the
order of their sequence numbers; nothing reads the clock, so replaying the same inputs rebuilds the
same state, hash for hash. Every money movement is a balanced set of postings between the users'
margin accounts, the positions' isolated margins, the house, the insurance fund and the bridge to
the spot wallets, so the books always sum to zero.

Only a command that took effect is remembered (its id, with a fingerprint of its body): a refused
one is raised before anything changes and leaves no trace, so its retry is evaluated afresh, and
the live path (`offer`) numbers only the inputs that take effect.

Triggers (liquidation on the mark, stop-loss and take-profit on the side of the book a close
meets) sit in sorted lists per symbol, so a tick costs O(log n + k) for n open positions and k
triggered ones, never a scan.
"""

from __future__ import annotations

import array
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from sortedcontainers import SortedList

from app.domain import cfd
from app.domain.cfd import CfdError, Direction, Position
from app.domain.cfd_store import Columns, PositionStore, from_le, le_bytes
from app.money import ASSET_SCALE, ZERO, credit, to_str, to_str_or_none


# --- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Deposit:
    cmd_id: str
    user_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Withdraw:
    cmd_id: str
    user_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OpenPosition:
    cmd_id: str
    user_id: int
    symbol: str
    direction: Direction
    margin: Decimal
    leverage: Decimal
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Amend:
    """New stop-loss / take-profit; `clear_*` removes one."""

    cmd_id: str
    user_id: int
    position_id: int
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    clear_stop_loss: bool = False
    clear_take_profit: bool = False


@dataclass(frozen=True, slots=True)
class ClosePosition:
    cmd_id: str
    user_id: int
    position_id: int


@dataclass(frozen=True, slots=True)
class Tick:
    symbol: str
    bid: Decimal
    ask: Decimal
    mark: Decimal
    ts: int


Command = Deposit | Withdraw | OpenPosition | Amend | ClosePosition
Input = Command | Tick


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


UNKNOWN_FINGERPRINT = ""  # remembered by a format-2 snapshot, which kept no fingerprints: any body matches
DUPLICATE = "DUPLICATE_CLIENT_REQUEST_ID"


@dataclass(frozen=True, slots=True)
class Event:
    """What happened, in domain values (Positions, Decimals); `event_json` makes the wire form, so a
    tick pays for no formatting."""

    user_id: int
    kind: str  # OPENED UPDATED CLOSED STOP_LOSS TAKE_PROFIT LIQUIDATED REJECTED TRANSFERRED
    data: dict[str, Any]


def event_json(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in event.data.items():
        if isinstance(value, Position):
            out[key] = position_json(value)
        elif isinstance(value, Decimal):
            out[key] = to_str(value)
        else:
            out[key] = value
    return out


def rejection(c: Command, exc: CfdError) -> Event:
    """The answer to a refused command (the engine's refusals and the desk's alike)."""
    return Event(c.user_id, "REJECTED", {"cmdId": c.cmd_id, "reason": exc.message, "field": exc.field,
                                         "code": exc.code})


RETRY_WINDOW = 100_000  # inputs during which a command id is remembered
PRUNE_EVERY = 10_000
STATE_FORMAT = 3  # 3: remembered commands carry a fingerprint; 2 (read too): accepted flag, rejections kept


# --- the trigger index ---------------------------------------------------------------------------------
# (list, fires when the price it watches is <= level, which price it watches)
_LISTS = {
    "long_liq": (True, "mark"), "long_sl": (True, "bid"), "long_tp": (False, "bid"),
    "short_liq": (False, "mark"), "short_sl": (False, "ask"), "short_tp": (True, "ask"),
}
_REASON = {"liq": "LIQUIDATED", "sl": "STOP_LOSS", "tp": "TAKE_PROFIT"}


_E8 = Decimal(10**8)


def _floor(price: Decimal) -> int:
    return int(price.scaleb(8).to_integral_value(ROUND_FLOOR))


def _ceil(price: Decimal) -> int:
    return int(price.scaleb(8).to_integral_value(ROUND_CEILING))


class TriggerIndex:
    """Per symbol, six sorted lists of (level × 10^8, position id): exact integer comparisons."""

    def __init__(self) -> None:
        self.lists: dict[str, dict[str, SortedList]] = {}

    def _of(self, symbol: str) -> dict[str, SortedList]:
        found = self.lists.get(symbol)
        if found is None:
            found = self.lists[symbol] = {name: SortedList() for name in _LISTS}
        return found

    @staticmethod
    def _entries(p: Position) -> Iterator[tuple[str, int]]:
        """Levels are tick-aligned (checked on the way in), so × 10^8 is an exact integer."""
        long = p.direction is Direction.LONG
        if p.liquidation > 0:
            yield ("long_liq" if long else "short_liq"), int(p.liquidation * _E8)
        if p.stop_loss is not None:
            yield ("long_sl" if long else "short_sl"), int(p.stop_loss * _E8)
        if p.take_profit is not None:
            yield ("long_tp" if long else "short_tp"), int(p.take_profit * _E8)

    def add(self, p: Position) -> None:
        lists = self._of(p.symbol)
        for name, level in self._entries(p):
            lists[name].add((level, p.id))

    def to_bytes(self) -> tuple[list[list[Any]], bytes]:
        """Every list in its sorted order, as (symbol, list, count) and int64 level and id columns."""
        layout, out = [], bytearray()
        for symbol in sorted(self.lists):
            for name in sorted(self.lists[symbol]):
                lst = self.lists[symbol][name]
                if not lst:
                    continue
                levels = array.array("q", (level for level, _ in lst))
                ids = array.array("q", (pid for _, pid in lst))
                layout.append([symbol, name, len(lst)])
                out += le_bytes(levels) + le_bytes(ids)
        return layout, bytes(out)

    def load_bytes(self, layout: list[list[Any]], blob: bytes) -> None:
        """Rebuild from `to_bytes`: the entries come sorted, so each list is built in linear time."""
        at = 0
        for symbol, name, count in layout:
            size = int(count) * 8
            levels, ids = from_le(blob[at:at + size]), from_le(blob[at + size:at + 2 * size])
            at += 2 * size
            self._of(symbol)[name].update(zip(levels, ids, strict=True))
        if at != len(blob):
            raise ValueError("trigger index data has the wrong length")

    def remove(self, p: Position) -> None:
        lists = self._of(p.symbol)
        for name, level in self._entries(p):
            lists[name].remove((level, p.id))

    def hits(self, symbol: str, bid: Decimal, ask: Decimal, mark: Decimal) -> dict[int, str]:
        """Position id -> why it closes now; a liquidation beats a stop in the same tick."""
        prices = {"bid": bid, "ask": ask, "mark": mark}
        out: dict[int, str] = {}
        for name, lst in self._of(symbol).items():
            fires_at_or_below, watched = _LISTS[name]
            price = prices[watched]
            if fires_at_or_below:  # every level >= price
                entries = lst.irange((_ceil(price), -1))
            else:  # every level <= price
                entries = lst.irange(maximum=(_floor(price), 2**63))
            reason = _REASON[name.split("_", 1)[1]]
            for _, pid in entries:
                if reason == "LIQUIDATED" or pid not in out:
                    out[pid] = reason
        return out


# --- the engine -------------------------------------------------------------------------------------
@dataclass
class CfdEngine:
    ticks: dict[str, Decimal]  # symbol -> tick size
    mmr: Decimal
    fee_rate: Decimal
    balances: dict[int, Decimal] = field(default_factory=dict)  # users' free margin (USDT)
    positions: PositionStore = field(default_factory=PositionStore)
    house: Decimal = ZERO  # the counterparty: fees, losers' losses, winners' gains
    insurance: Decimal = ZERO  # liquidation leftovers in, shortfalls out
    bridge: Decimal = ZERO  # minus what the spot wallets put in (net): the books sum to zero
    quotes: dict[str, tuple[Decimal, Decimal, Decimal, int]] = field(default_factory=dict)
    seq: int = 0  # the last input applied
    next_id: int = 1
    id_stride: int = 1  # position ids are next_id × stride + offset: unique across the shards
    id_offset: int = 0
    # command id -> (fingerprint, the input number it took effect at), only for commands that took effect;
    # forgotten RETRY_WINDOW inputs later (a retry comes within seconds), except the one-off starting grants
    applied: dict[str, tuple[str, int]] = field(default_factory=dict)
    open_count: dict[str, int] = field(default_factory=dict, repr=False)  # symbol -> open positions
    index: TriggerIndex = field(default_factory=TriggerIndex, repr=False)

    # ---- applying inputs
    def apply(self, seq: int, item: Input) -> list[Event]:
        """Apply the journaled input numbered `seq` (each number once, in order): recovery and replay.

        A journaled input always takes its number, even a command refused again on replay (journals
        written before refusals were kept out of them hold such lines)."""
        if seq <= self.seq:
            return []  # already applied: a replayed journal entry
        _, events = self._take(seq, item)
        self._advance(seq)
        return events

    def offer(self, item: Input) -> tuple[int | None, list[Event]]:
        """The live path: `item` becomes the next input (`seq + 1`, returned) only if it takes effect.

        A refused command changes nothing, not even the sequence number, so it is neither journaled
        nor remembered and a retry is evaluated afresh; a repeat of one that took effect changes
        nothing either (None, [])."""
        seq = self.seq + 1
        took, events = self._take(seq, item)
        if not took:
            return None, events
        self._advance(seq)
        return seq, events

    def repeat_of(self, c: Command) -> bool:
        """True if `c` already took effect (answer it from what it did); a CfdError if its id took effect
        with a different body."""
        known = self.applied.get(c.cmd_id)
        if known is None:
            return False
        if known[0] not in (UNKNOWN_FINGERPRINT, fingerprint(c)):
            raise CfdError("this clientRequestId was already used for a different request", "clientRequestId",
                           DUPLICATE)
        return True

    def _take(self, seq: int, item: Input) -> tuple[bool, list[Event]]:
        """Evaluate `item` as input `seq`: (whether it took effect, its events). Every refusal is raised
        before anything changes, so a refused command leaves no trace."""
        if isinstance(item, Tick):
            return True, self._tick(item)
        try:
            if self.repeat_of(item):
                return False, []  # the same command delivered twice
            events = self._command(item)
        except CfdError as exc:
            return False, [rejection(item, exc)]
        self.applied[item.cmd_id] = (fingerprint(item), seq)
        return True, events

    def _advance(self, seq: int) -> None:
        self.seq = seq
        if seq % PRUNE_EVERY == 0:
            self._forget_old_commands()

    def _forget_old_commands(self) -> None:
        horizon = self.seq - RETRY_WINDOW
        self.applied = {k: v for k, v in self.applied.items() if v[1] >= horizon or k.startswith("grant:")}

    def _command(self, c: Command) -> list[Event]:
        if isinstance(c, Deposit):
            self.balances[c.user_id] = self.balances.get(c.user_id, ZERO) + c.amount
            self.bridge -= c.amount
            return [self._transfer_event(c.user_id, c.cmd_id, c.amount)]
        if isinstance(c, Withdraw):
            if self.balances.get(c.user_id, ZERO) < c.amount:
                raise CfdError(f"only {to_str(self.balances.get(c.user_id, ZERO))} USDT of free margin to withdraw",
                               "amount", "NO_FUNDS")
            self.balances[c.user_id] -= c.amount
            self.bridge += c.amount
            return [self._transfer_event(c.user_id, c.cmd_id, -c.amount)]
        if isinstance(c, OpenPosition):
            return self._open(c)
        position = self.positions.get(c.position_id)
        if position is None or position.user_id != c.user_id:  # someone else's looks like none at all
            raise CfdError(f"position {c.position_id} is not open", "positionId", "NOT_OPEN")
        if isinstance(c, Amend):
            return self._amend(c, position)
        bid, ask, _, _ = self._quote(position.symbol)
        return self._close(position, cfd.close_price(position.direction, bid, ask), "CLOSED")

    def _quote(self, symbol: str) -> tuple[Decimal, Decimal, Decimal, int]:
        q = self.quotes.get(symbol)
        if q is None:
            raise CfdError(f"no price for {symbol} yet; try again in a moment", "symbol", "NO_PRICE")
        return q

    def _open(self, c: OpenPosition) -> list[Event]:
        tick = self.ticks.get(c.symbol)
        if tick is None:
            raise CfdError(f"{c.symbol} is not traded on the CFD desk", "symbol")
        cfd.check_leverage(c.leverage)
        if c.margin <= 0 or c.margin != c.margin.quantize(ASSET_SCALE):
            raise CfdError("margin must be greater than zero, with at most 8 decimals", "margin")
        _on_tick_grid(tick, c.stop_loss, c.take_profit)
        bid, ask, _, ts = self._quote(c.symbol)
        entry = cfd.open_price(c.direction, bid, ask)
        qty = cfd.quantity(c.margin, c.leverage, entry)
        if qty <= 0:
            raise CfdError("margin too small for one unit of quantity at this price", "margin")
        fee = cfd.fee(qty, entry, self.fee_rate)
        free = self.balances.get(c.user_id, ZERO)
        if free < c.margin + fee:
            raise CfdError(f"needs {to_str(c.margin + fee)} USDT (margin and the {to_str(fee)} fee); "
                           f"{to_str(free)} USDT of free margin", "margin", "NO_FUNDS")
        liq = cfd.liquidation_price(c.direction, entry, qty, c.margin, self.mmr, tick)
        cfd.check_stops(c.direction, cfd.close_price(c.direction, bid, ask), liq, c.stop_loss, c.take_profit)
        position = Position(self.next_id * self.id_stride + self.id_offset, c.user_id, c.symbol, c.direction,
                            c.margin, c.leverage, entry, qty, liq, c.stop_loss, c.take_profit, ts)
        self.next_id += 1
        self.balances[c.user_id] = free - c.margin - fee
        self.house += fee
        self._track(position)
        return [Event(c.user_id, "OPENED", {"cmdId": c.cmd_id, "position": position, "fee": fee,
                                            "balance": self.balances[c.user_id]})]

    def _amend(self, c: Amend, p: Position) -> list[Event]:
        bid, ask, _, _ = self._quote(p.symbol)
        _on_tick_grid(self.ticks[p.symbol], c.stop_loss, c.take_profit)
        sl = None if c.clear_stop_loss else (c.stop_loss if c.stop_loss is not None else p.stop_loss)
        tp = None if c.clear_take_profit else (c.take_profit if c.take_profit is not None else p.take_profit)
        cfd.check_stops(p.direction, cfd.close_price(p.direction, bid, ask), p.liquidation,
                        c.stop_loss if not c.clear_stop_loss else None,
                        c.take_profit if not c.clear_take_profit else None)
        self.index.remove(p)
        updated = replace(p, stop_loss=sl, take_profit=tp)
        self.positions[p.id] = updated
        self.index.add(updated)
        return [Event(p.user_id, "UPDATED", {"cmdId": c.cmd_id, "position": updated})]

    def _close(self, p: Position, price: Decimal, kind: str) -> list[Event]:
        """Settle at `price`: the user is paid what the position is worth, never less than zero."""
        pnl = cfd.upnl(p.direction, p.entry, p.qty, price)
        fee = cfd.fee(p.qty, price, self.fee_rate)
        value = p.margin + pnl - fee
        if kind == "LIQUIDATED" or value < 0:
            payout = ZERO
            self.insurance += value  # leftover margin in, or a shortfall out
            self.house += p.margin - value
        else:
            payout = credit(value)
            self.house += p.margin - payout  # the counterparty's side, and the rounding residue
        self.balances[p.user_id] = self.balances.get(p.user_id, ZERO) + payout
        self.index.remove(p)
        del self.positions[p.id]
        self.open_count[p.symbol] -= 1
        return [Event(p.user_id, kind, {"position": p, "exitPrice": price, "pnl": pnl, "fee": fee, "payout": payout,
                                        "balance": self.balances[p.user_id]})]

    def _tick(self, t: Tick) -> list[Event]:
        previous = self.quotes.get(t.symbol)
        if previous is not None and previous[3] > t.ts:
            return []  # an older tick never moves the market back
        self.quotes[t.symbol] = (t.bid, t.ask, t.mark, t.ts)
        events: list[Event] = []
        for pid, reason in sorted(self.index.hits(t.symbol, t.bid, t.ask, t.mark).items()):
            p = self.positions[pid]
            events += self._close(p, cfd.close_price(p.direction, t.bid, t.ask), reason)
        return events

    def _track(self, p: Position) -> None:
        self.positions[p.id] = p
        self.index.add(p)
        self.open_count[p.symbol] = self.open_count.get(p.symbol, 0) + 1

    def has_open(self, symbol: str) -> bool:
        return self.open_count.get(symbol, 0) > 0

    def _transfer_event(self, user_id: int, cmd_id: str, amount: Decimal) -> Event:
        return Event(user_id, "TRANSFERRED", {"cmdId": cmd_id, "amount": amount, "balance": self.balances[user_id]})

    # ---- reading
    def books_sum(self) -> Decimal:
        """Σ of every account; always exactly zero."""
        return (sum(self.balances.values(), ZERO) + self.positions.margin_total() + self.house + self.insurance
                + self.bridge)

    # ---- snapshots
    def encode_state(self) -> bytes:
        """The whole state, canonically: a JSON line of the small parts, then the positions as
        int64 columns ordered by id. Equal states give equal bytes, whatever is hot or cold."""
        cols = self.positions.columns()
        layout, index_blob = self.index.to_bytes()
        meta = {
            "format": STATE_FORMAT, "seq": self.seq, "nextId": self.next_id, "idStride": self.id_stride,
            "idOffset": self.id_offset, "house": to_str(self.house), "insurance": to_str(self.insurance),
            "bridge": to_str(self.bridge),
            "balances": [[u, to_str(b)] for u, b in sorted(self.balances.items())],
            "quotes": [[s, to_str(b), to_str(a), to_str(m), ts] for s, (b, a, m, ts) in sorted(self.quotes.items())],
            "applied": sorted([k, fp, at] for k, (fp, at) in self.applied.items()),
            "positions": {"count": len(cols), "symbols": cols.symbols}, "index": layout,
        }
        return canonical(meta) + b"\n" + cols.to_bytes() + index_blob

    def state_hash(self) -> str:
        return hashlib.sha256(self.encode_state()).hexdigest()

    @staticmethod
    def seq_of(blob: bytes) -> int:
        return int(json.loads(blob[:blob.index(b"\n")])["seq"])

    @classmethod
    def restore(cls, blob: bytes, ticks: dict[str, Decimal], mmr: Decimal, fee_rate: Decimal) -> CfdEngine:
        cut = blob.index(b"\n")
        data = json.loads(blob[:cut])
        if data.get("format") not in (2, STATE_FORMAT):
            raise ValueError(f"unknown state format {data.get('format')!r}")
        engine = cls(ticks, mmr, fee_rate, seq=int(data["seq"]), next_id=int(data["nextId"]),
                     id_stride=int(data["idStride"]), id_offset=int(data["idOffset"]),
                     house=Decimal(data["house"]), insurance=Decimal(data["insurance"]),
                     bridge=Decimal(data["bridge"]))
        engine.balances = {int(u): Decimal(b) for u, b in data["balances"]}
        engine.quotes = {s: (Decimal(b), Decimal(a), Decimal(m), int(ts)) for s, b, a, m, ts in data["quotes"]}
        engine.applied = _remembered(data)
        info = data["positions"]
        split = cut + 1 + Columns.size(int(info["count"]))
        cols = Columns.from_bytes(info["symbols"], int(info["count"]), blob[cut + 1:split])
        engine.positions = PositionStore(cols)
        for sym, count in Counter(cols.data["symbol"]).items():
            engine.open_count[cols.symbols[sym]] = count
        engine.index.load_bytes(data["index"], blob[split:])
        return engine


def _remembered(data: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Format 2 kept refused commands too ([id, accepted, at]): only those that took effect stay
    remembered, with no fingerprint to compare."""
    if data["format"] == 2:
        return {str(k): (UNKNOWN_FINGERPRINT, int(at)) for k, ok, at in data["applied"] if ok}
    return {str(k): (str(fp), int(at)) for k, fp, at in data["applied"]}


def _on_tick_grid(tick: Decimal, stop_loss: Decimal | None, take_profit: Decimal | None) -> None:
    for field_name, value in (("stopLossPrice", stop_loss), ("takeProfitPrice", take_profit)):
        if value is not None and value % tick:
            raise CfdError(f"{field_name} must be a multiple of the tick size {to_str(tick)}", field_name)


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def position_json(p: Position) -> dict[str, Any]:
    return {"id": p.id, "symbol": p.symbol, "direction": p.direction.value, "margin": to_str(p.margin),
            "leverage": to_str(p.leverage), "entryPrice": to_str(p.entry), "quantity": to_str(p.qty),
            "liquidationPrice": to_str(p.liquidation), "stopLossPrice": to_str_or_none(p.stop_loss),
            "takeProfitPrice": to_str_or_none(p.take_profit), "openedAt": p.opened_at}

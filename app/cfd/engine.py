"""The CFD engine: margin accounts and open positions of one shard, driven only by its inputs.

Inputs are commands (deposit, withdraw, open, amend, close) and price ticks, each applied in the
order of their sequence numbers; nothing reads the clock, so replaying the same inputs rebuilds the
same state, hash for hash. Every money movement is a balanced set of postings between the users'
margin accounts, the positions' isolated margins, the house, the insurance fund and the bridge to
the spot wallets, so the books always sum to zero.

Only a command that took effect is remembered (its id, with a fingerprint of its body): a refused
one is raised before anything changes and leaves no trace, so its retry is evaluated afresh, and
the live path (`offer`) numbers only the inputs that take effect.

Triggers sit in the trigger index (`triggers.py`), so a tick touches only the positions it closes;
the inputs and events are `inputs.py`, the state's encoding `codec.py`, the arithmetic `rules.py`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from decimal import Decimal

from app.cfd import rules
from app.cfd.codec import UNKNOWN_FINGERPRINT, decode_state, fingerprint
from app.cfd.inputs import (
    Amend,
    Command,
    Deposit,
    Event,
    Input,
    OpenPosition,
    Tick,
    Withdraw,
    is_grant,
    rejection,
)
from app.cfd.rules import DUPLICATE, CfdError, Position
from app.cfd.store import PositionStore
from app.cfd.triggers import TriggerIndex
from app.money import ASSET_SCALE, ZERO, credit, to_str

RETRY_WINDOW = 100_000  # inputs during which a command id is remembered
PRUNE_EVERY = 10_000


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
        self.applied = {k: v for k, v in self.applied.items() if v[1] >= horizon or is_grant(k)}

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
        return self._close(position, rules.close_price(position.direction, bid, ask), "CLOSED")

    def _quote(self, symbol: str) -> tuple[Decimal, Decimal, Decimal, int]:
        q = self.quotes.get(symbol)
        if q is None:
            raise CfdError(f"no price for {symbol} yet; try again in a moment", "symbol", "NO_PRICE")
        return q

    def _open(self, c: OpenPosition) -> list[Event]:
        tick = self.ticks.get(c.symbol)
        if tick is None:
            raise CfdError(f"{c.symbol} is not traded on the CFD desk", "symbol")
        rules.check_leverage(c.leverage)
        if c.margin <= 0 or c.margin != c.margin.quantize(ASSET_SCALE):
            raise CfdError("margin must be greater than zero, with at most 8 decimals", "margin")
        _on_tick_grid(tick, c.stop_loss, c.take_profit)
        bid, ask, _, ts = self._quote(c.symbol)
        entry = rules.open_price(c.direction, bid, ask)
        qty = rules.quantity(c.margin, c.leverage, entry)
        if qty <= 0:
            raise CfdError("margin too small for one unit of quantity at this price", "margin")
        fee = rules.fee(qty, entry, self.fee_rate)
        free = self.balances.get(c.user_id, ZERO)
        if free < c.margin + fee:
            raise CfdError(f"needs {to_str(c.margin + fee)} USDT (margin and the {to_str(fee)} fee); "
                           f"{to_str(free)} USDT of free margin", "margin", "NO_FUNDS")
        liq = rules.liquidation_price(c.direction, entry, qty, c.margin, self.mmr, tick)
        rules.check_stops(c.direction, rules.close_price(c.direction, bid, ask), liq, c.stop_loss, c.take_profit)
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
        rules.check_stops(p.direction, rules.close_price(p.direction, bid, ask), p.liquidation,
                        c.stop_loss if not c.clear_stop_loss else None,
                        c.take_profit if not c.clear_take_profit else None)
        self.index.remove(p)
        updated = replace(p, stop_loss=sl, take_profit=tp)
        self.positions[p.id] = updated
        self.index.add(updated)
        return [Event(p.user_id, "UPDATED", {"cmdId": c.cmd_id, "position": updated})]

    def _close(self, p: Position, price: Decimal, kind: str, gone: Collection[str] = ()) -> list[Event]:
        """Settle at `price`: the user is paid what the position is worth, never less than zero. `gone`: the
        trigger lists a tick already took it out of."""
        pnl = rules.upnl(p.direction, p.entry, p.qty, price)
        fee = rules.fee(p.qty, price, self.fee_rate)
        value = p.margin + pnl - fee
        if kind == "LIQUIDATED" or value < 0:
            payout = ZERO
            self.insurance += value  # leftover margin in, or a shortfall out
            self.house += p.margin - value
        else:
            payout = credit(value)
            self.house += p.margin - payout  # the counterparty's side, and the rounding residue
        self.balances[p.user_id] = self.balances.get(p.user_id, ZERO) + payout
        self.index.remove(p, gone)
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
        reasons, gone = self.index.take(t.symbol, t.bid, t.ask, t.mark)
        for pid, reason in sorted(reasons.items()):
            p = self.positions[pid]
            events += self._close(p, rules.close_price(p.direction, t.bid, t.ask), reason, gone[pid])
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

    # ---- snapshots (the encoding is app/cfd/codec.py)
    @classmethod
    def restore(cls, blob: bytes, ticks: dict[str, Decimal], mmr: Decimal, fee_rate: Decimal) -> CfdEngine:
        """The engine `codec.encode_state` wrote: positions stay in their columns until touched."""
        return cls(ticks, mmr, fee_rate, **decode_state(blob))


def _on_tick_grid(tick: Decimal, stop_loss: Decimal | None, take_profit: Decimal | None) -> None:
    for field_name, value in (("stopLossPrice", stop_loss), ("takeProfitPrice", take_profit)):
        if value is not None and value % tick:
            raise CfdError(f"{field_name} must be a multiple of the tick size {to_str(tick)}", field_name)

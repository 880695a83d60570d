"""The CFD desk an Executor shard drives (not an actor): engine, journal, snapshots, and the database
projection (`app/persistence/cfd_projection.py`).

Order of effects for every batch: the engine is offered the inputs, and those that took effect
(every tick, every command not refused) are numbered and journaled (one fsync) before anything
else sees them; their effects on the database (spot ledger for transfers, the position and
account projections, the outbox events) are written in the Executor's transaction together with
the shard's `cfd_cursor`, the last input whose effects the database holds. A refused command is
answered but never journaled nor remembered, so its retry is evaluated afresh. After a crash the
engine is rebuilt from its snapshot and journal, and every input past the cursor is replayed into
the database once: the engine is deterministic, so replaying it yields the same events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app import metrics
from app.cfd.engine import CfdEngine
from app.cfd.inputs import (
    CLOSE_KINDS,
    GRANT,
    Amend,
    ClosePosition,
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
from app.cfd.journal import recover
from app.cfd.queries import cfd_position
from app.cfd.render import cfd_position_json, reply_json
from app.cfd.rules import DUPLICATE, CfdError, Direction
from app.clock import now_ms
from app.domain.answers import Answer, RejectionKind
from app.domain.ledger import transfer, user_free
from app.domain.symbols import SymbolSpec
from app.events import BalancesChanged, CfdChanged
from app.execution.user_events import balance_update
from app.messages import CfdRequest, PriceTick, Reply
from app.money import to_str
from app.persistence import cfd_projection
from app.persistence.cfd_projection import cfd_balance, cfd_position_opened_by
from app.persistence.ledger import BalanceCache, balance_rows, post_entries
from settings import Settings

log = logging.getLogger(__name__)

Result = tuple[int, Input, list[Event]]  # an input that took effect: its number, itself, its events
# The kind of each refusal the engine gives; any other is INVALID.
KIND_OF = {"NOT_OPEN": RejectionKind.NOT_FOUND, "NO_FUNDS": RejectionKind.NO_FUNDS, DUPLICATE: RejectionKind.CONFLICT,
           "NO_PRICE": RejectionKind.STALE_PRICES}


NO_PRICE_TO_CLOSE = -1  # a reset's desk part could not run: a position's symbol has no price yet


@dataclass
class DeskBatch:
    """What the desk did with one batch: the inputs that took effect (numbered, journaled, written to the
    database) and the requests it refused (answered and announced, never journaled)."""

    results: list[Result] = field(default_factory=list)
    refused: dict[str, Event] = field(default_factory=dict)  # request msg_id -> its REJECTED event
    closed_by_reset: dict[str, int] = field(default_factory=dict)  # reset tag -> positions closed, or NO_PRICE_TO_CLOSE


def bridge_of(shard: int) -> str:
    return f"cfd:bridge:{shard}"


def grants_of(shard: int) -> str:
    return f"house:cfd:{shard}"


class CfdDesk:
    def __init__(self, settings: Settings, specs: dict[str, SymbolSpec], shard: int) -> None:
        self.shard = shard
        self.settings = settings
        self.specs = specs
        self.ticks = {sym: spec.tick_size for sym, spec in specs.items()}
        self._recover()
        self.pending_ticks: dict[str, Tick] = {}
        self.since_snapshot = 0

    def _recover(self) -> None:
        """The engine as of its last journaled input (at start, and when a journal write failed)."""
        s = self.settings
        self.engine, self.journal, self.snapshots, report = recover(
            s.data_dir / "cfd" / f"shard-{self.shard}", self.ticks, s.cfd_mmr, s.fee_rate, s.executor_shards,
            self.shard)
        log.debug("cfd desk %d: recovered to input %d (snapshot %s, %d replayed), %d open positions", self.shard,
                 report["seq"], report["snapshot"], report["replayed"], len(self.engine.positions))

    # ---- recovery of the database side
    def catch_up(self) -> DeskBatch:
        """Inputs the engine applied but the database has not seen (re-derived by replay)."""
        db_seq = cfd_projection.cursor(self.shard)
        if db_seq >= self.engine.seq:
            return DeskBatch()
        s = self.settings
        replica = CfdEngine(self.ticks, s.cfd_mmr, s.fee_rate, id_stride=self.engine.id_stride,
                            id_offset=self.engine.id_offset)
        found = self.snapshots.newest(lambda blob: CfdEngine.restore(blob, self.ticks, s.cfd_mmr, s.fee_rate),
                                      at_most=db_seq)
        if found is not None:
            replica = found[1]
        batch = DeskBatch()
        for seq, item in self.journal.replay(replica.seq):
            events = replica.apply(seq, item)
            if seq > db_seq:
                batch.results.append((seq, item, events))
        log.info("cfd desk %d: replaying inputs %d..%d into the database", self.shard, db_seq + 1, self.engine.seq)
        return batch

    # ---- inputs
    def on_tick(self, tick: PriceTick) -> None:
        """Ticks are journaled only when they matter: a symbol with open positions, or before a command."""
        if tick.symbol not in self.specs:
            return
        pending = self.pending_ticks.get(tick.symbol)
        applied = self.engine.quotes.get(tick.symbol)
        if (pending is not None and pending.ts > tick.ts) or (applied is not None and applied[3] >= tick.ts):
            return  # an older tick never moves the market back; a repeated one is not a new input
        self.pending_ticks[tick.symbol] = Tick(tick.symbol, tick.bid, tick.ask, tick.price, tick.ts)

    def needs_tick(self, symbol: str) -> bool:
        return self.engine.has_open(symbol)

    def run(self, requests: list[CfdRequest], balances: BalanceCache,
            resets: Sequence[tuple[int, str]] = ()) -> DeskBatch:
        """Offer this batch's inputs to the engine, then journal those that took effect (one fsync)
        before the database, a reply or a snapshot can see them. A refused request takes no number.
        `resets` (user, tag) are account resets: their desk part comes after the requests."""
        batch = DeskBatch()
        for symbol, tick in list(self.pending_ticks.items()):
            if self.engine.has_open(symbol) or requests or resets:
                self._offer(tick, batch)
                del self.pending_ticks[symbol]
        to_spot: dict[int, Decimal] = {}  # user -> USDT this batch's transfers moved to (+) or from (-) spot
        for req in requests:
            command = self._command(req)
            try:
                if self.engine.repeat_of(command):
                    continue  # it took effect before: the reply is built from the projection
                self._grant(req.user_id, batch)
                self._check_spot(command, balances, to_spot.get(req.user_id, Decimal(0)))
            except CfdError as exc:
                batch.refused[req.msg_id] = rejection(command, exc)
                continue
            seq, events = self._offer(command, batch)
            if seq is None and events:
                batch.refused[req.msg_id] = events[0]
            elif seq is not None and isinstance(command, (Deposit, Withdraw)):
                moved = command.amount if isinstance(command, Withdraw) else -command.amount
                to_spot[req.user_id] = to_spot.get(req.user_id, Decimal(0)) + moved
        for user_id, tag in resets:
            batch.closed_by_reset[tag] = self._reset(user_id, tag, batch)
        try:
            self.journal.append((seq, item) for seq, item, _ in batch.results)
        except Exception:
            self.journal.close()
            self._recover()  # the engine ran ahead of its journal: back to what the disk holds
            for _, item, _ in batch.results:
                if isinstance(item, Tick):
                    self.pending_ticks.setdefault(item.symbol, item)  # for the next batch
            raise
        self.since_snapshot += len(batch.results)
        return batch

    def _offer(self, item: Input, batch: DeskBatch) -> tuple[int | None, list[Event]]:
        seq, events = self.engine.offer(item)
        if seq is not None:
            batch.results.append((seq, item, events))
        return seq, events

    def _grant(self, user_id: int, batch: DeskBatch) -> None:
        """The house's starting margin, once per user, on the first desk command."""
        amount = self.settings.cfd_starting_margin
        grant = f"{GRANT}{user_id}"
        if amount > 0 and grant not in self.engine.applied:
            self._offer(Deposit(grant, user_id, amount), batch)

    def _reset(self, user_id: int, tag: str, batch: DeskBatch) -> int:
        """An account reset's desk part, as ordinary journaled inputs (ids `<tag>:...`), so recovery replays
        it like any command: close the user's positions at market, move its free margin to the spot wallet
        (which the reset then sweeps), and grant the starting margin again. A user who never used the desk
        has nothing here (its first command grants as usual); a part already journaled is not done twice."""
        regrant, withdraw = f"{GRANT}{user_id}:{tag}", f"{tag}:withdraw"
        if f"{GRANT}{user_id}" not in self.engine.applied or regrant in self.engine.applied \
                or withdraw in self.engine.applied:
            return 0
        mine = sorted((p for p in self.engine.positions.all() if p.user_id == user_id), key=lambda p: p.id)
        if any(p.symbol not in self.engine.quotes for p in mine):
            return NO_PRICE_TO_CLOSE  # checked before anything changes: the engine never runs ahead of its journal
        for p in mine:
            self._offer(ClosePosition(f"{tag}:close-{p.id}", user_id, p.id), batch)
        closed = len(mine)
        margin = self.engine.balances.get(user_id, Decimal(0))
        if margin > 0:
            self._offer(Withdraw(withdraw, user_id, margin), batch)
        if self.settings.cfd_starting_margin > 0:
            self._offer(Deposit(regrant, user_id, self.settings.cfd_starting_margin), batch)
        return closed

    @staticmethod
    def _check_spot(command: Command, balances: BalanceCache, pending: Decimal) -> None:
        """Money moved to margin must be free in the spot wallet, which the engine does not see; the
        database learns this batch's transfers (`pending`) only after the whole batch ran."""
        if isinstance(command, Deposit):
            free = balances.account(user_free(command.user_id)).get("USDT", Decimal(0)) + pending
            if free < command.amount:
                raise CfdError(f"only {to_str(free)} USDT free in the spot wallet", "amount", "NO_FUNDS")

    @staticmethod
    def _command(req: CfdRequest) -> Command:
        p, uid, cid = req.params, req.user_id, req.cmd_id
        if req.action == "TRANSFER":
            amount = Decimal(p["amount"])
            return Deposit(cid, uid, amount) if p["direction"] == "TO_MARGIN" else Withdraw(cid, uid, amount)
        if req.action == "OPEN":
            return OpenPosition(cid, uid, p["symbol"], Direction(p["direction"]), Decimal(p["margin"]),
                                Decimal(p["leverage"]), _dec(p.get("stopLossPrice")), _dec(p.get("takeProfitPrice")))
        if req.action == "AMEND":
            return Amend(cid, uid, int(p["positionId"]), _dec(p.get("stopLossPrice")), _dec(p.get("takeProfitPrice")),
                         bool(p.get("clearStopLoss")), bool(p.get("clearTakeProfit")))
        return ClosePosition(cid, uid, int(p["positionId"]))

    # ---- the database side (inside the Executor's transaction)
    def persist(self, batch: DeskBatch, balances: BalanceCache) -> list[CfdChanged | BalancesChanged]:
        """Ledger, projections and the cursor for `batch`; returns the user events to publish (a transfer
        also moved the spot wallet: its USDT as it stands after the batch, as any spot change tells it)."""
        events: list[CfdChanged | BalancesChanged] = []
        now = now_ms()
        for seq, _, produced in batch.results:
            for ev in produced:
                self._persist_event(ev, balances, now)
                cause = f"cfd:{self.shard}:{seq}"
                events.append(self._update(ev, cause))
                if ev.kind == "TRANSFERRED" and not is_grant(ev.data["cmdId"]):
                    events.append(balance_update(ev.user_id, cause, [row for row in balance_rows(ev.user_id, balances)
                                                                     if row[0] == "USDT"]))
        events += [self._update(ev, f"cfd:{self.shard}:refused:{msg_id}") for msg_id, ev in batch.refused.items()]
        if batch.results:
            cfd_projection.set_cursor(self.shard, batch.results[-1][0])
        return events

    def _update(self, ev: Event, cause: str) -> CfdChanged:
        return CfdChanged.of(ev, cause, self.engine.balances.get(ev.user_id, Decimal(0)))

    def _persist_event(self, ev: Event, balances: BalanceCache, now: int) -> None:
        uid = ev.user_id
        if ev.kind == "TRANSFERRED":
            amount: Decimal = ev.data["amount"]
            cid = ev.data["cmdId"]
            if is_grant(cid):
                entry = transfer("cfd", cid, "grant", "USDT", amount, grants_of(self.shard), bridge_of(self.shard))
            elif amount > 0:
                entry = transfer("cfd", cid, "to_margin", "USDT", amount, user_free(uid), bridge_of(self.shard))
            else:
                entry = transfer("cfd", cid, "to_spot", "USDT", -amount, bridge_of(self.shard), user_free(uid))
            post_entries([entry], now, balances)
        elif ev.kind in ("OPENED", "UPDATED"):
            pos = ev.data["position"]
            fields = {"user_id": uid, "symbol": pos.symbol, "direction": pos.direction.value, "margin": pos.margin,
                      "leverage": pos.leverage, "entry_price": pos.entry, "quantity": pos.qty,
                      "liquidation_price": pos.liquidation, "stop_loss": pos.stop_loss,
                      "take_profit": pos.take_profit, "status": "OPEN"}
            if ev.kind == "OPENED":
                cfd_projection.insert_opened(pos.id, ev.data["cmdId"], ev.data["fee"], now, **fields)
            else:
                cfd_projection.update_stops(pos.id, pos.stop_loss, pos.take_profit)
        elif ev.kind in CLOSE_KINDS:
            pos = ev.data["position"]
            cfd_projection.record_close(pos.id, ev.kind, ev.data["exitPrice"], ev.data["pnl"], ev.data["fee"],
                                        ev.data["payout"], now)
        if ev.kind != "REJECTED":
            cfd_projection.set_balance(uid, self.engine.balances.get(uid, Decimal(0)), now)

    def report(self, batch: DeskBatch) -> None:
        """After the commit: one INFO line per position opened or ended, and the desk's metrics."""
        for _, _, produced in batch.results:
            for ev in produced:
                if ev.kind == "OPENED":
                    pos = ev.data["position"]
                    log.info("cfd position %s OPENED: user %s %s %s %s x%s at %s", pos.id, ev.user_id,
                             pos.direction.value, pos.qty, pos.symbol, pos.leverage, pos.entry)
                elif ev.kind in CLOSE_KINDS:
                    pos = ev.data["position"]
                    log.info("cfd position %s %s: user %s %s %s %s at %s, pnl %s", pos.id, ev.kind, ev.user_id,
                             pos.direction.value, pos.qty, pos.symbol, ev.data["exitPrice"], ev.data["pnl"])
                    metrics.CFD_CLOSES.labels(ev.kind).inc()
        metrics.CFD_OPEN.labels(str(self.shard)).set(len(self.engine.positions))

    def maybe_snapshot(self) -> None:
        """After the database holds everything: snapshots never run ahead of the cursor."""
        if self.since_snapshot >= self.settings.cfd_snapshot_every:
            self.snapshots.write(self.engine)
            self.journal.truncate_before(self.snapshots.oldest_kept_seq())
            self.since_snapshot = 0

    def close(self, caught_up: bool) -> None:
        """On a clean stop, a snapshot makes the next start quick (only when the database holds it all)."""
        if caught_up and self.since_snapshot:
            self.snapshots.write(self.engine)
            self.journal.truncate_before(self.snapshots.oldest_kept_seq())
        self.journal.close()


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def reply_for(req: CfdRequest, batch: DeskBatch) -> Reply:
    """The answer to a request: from what this batch did with it, else (a repeat of a command that
    took effect before) from the projection."""
    refused = batch.refused.get(req.msg_id)
    if refused is not None:
        return _answer(req, refused)
    for _, item, events in batch.results:
        if getattr(item, "cmd_id", None) == req.cmd_id and events:
            return _answer(req, events[0])
    return Reply.ok(req.msg_id, Answer.OK, _repeat_answer(req))


def _answer(req: CfdRequest, ev: Event) -> Reply:
    body = reply_json(ev)
    if ev.kind == "REJECTED":
        code = str(body.get("code", "CFD_REJECTED"))
        return Reply.rejected(req.msg_id, KIND_OF.get(code, RejectionKind.INVALID), code, str(body["detail"]),
                              body.get("field"))
    return Reply.ok(req.msg_id, Answer.CREATED if ev.kind == "OPENED" else Answer.OK, body)


def _repeat_answer(req: CfdRequest) -> dict[str, Any]:
    """A repeated request whose command took effect before: answer with what it did."""
    if req.action == "OPEN":
        row = cfd_position_opened_by(req.user_id, req.cmd_id)
        if row is not None:
            return {"position": cfd_position_json(row)}
    elif req.action in ("CLOSE", "AMEND"):
        found = cfd_position(req.user_id, int(req.params["positionId"]), {})
        if found is not None:
            return {"position": found}
    body: dict[str, Any] = {"balance": to_str(cfd_balance(req.user_id)), "repeated": True}
    if req.action == "TRANSFER":
        amount = Decimal(req.params["amount"])
        body["amount"] = to_str(amount if req.params["direction"] == "TO_MARGIN" else -amount)
    return body

"""The CFD desk inside an Executor shard: engine, journal, snapshots, and the database projection.

Order of effects for every batch: the engine inputs are journaled (fsync) before they are
applied; their effects on the database (spot ledger for transfers, the position and account
projections, the outbox events) are written in the Executor's transaction together with the
shard's `cfd_cursor`, the last input whose effects the database holds. After a crash the engine
is rebuilt from its snapshot and journal, and every input past the cursor is replayed into the
database once: the engine is deterministic, so replaying it yields the same events.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from actors.runtime import Runtime
from app.cfd.journal import recover
from app.domain.cfd import CfdError, Direction
from app.domain.cfd_engine import (
    Amend,
    CfdEngine,
    ClosePosition,
    Deposit,
    Event,
    Input,
    OpenPosition,
    Tick,
    Withdraw,
    event_json,
    position_json,
)
from app.domain.ledger import transfer, user_free
from app.messages import CfdRequest, PriceTick
from app.money import to_str
from app.persistence.models import CfdAccount, CfdCursor, CfdPosition, now_ms
from app.persistence.store import BalanceCache, post_entries

log = logging.getLogger(__name__)

CLOSE_KINDS = ("CLOSED", "STOP_LOSS", "TAKE_PROFIT", "LIQUIDATED")
Result = tuple[int, Input, list[Event]]


def bridge_of(shard: int) -> str:
    return f"cfd:bridge:{shard}"


def grants_of(shard: int) -> str:
    return f"house:cfd:{shard}"


class CfdDesk:
    def __init__(self, runtime: Runtime, shard: int) -> None:
        s = runtime.settings
        self.shard = shard
        self.runtime = runtime
        self.ticks = {sym: spec.tick_size for sym, spec in runtime.specs.items()}
        self.engine, self.journal, self.snapshots, report = recover(
            s.data_dir / "cfd" / f"shard-{shard}", self.ticks, s.cfd_mmr, s.fee_rate)
        if self.engine.seq == 0:
            self.engine.id_stride, self.engine.id_offset = s.executor_shards, shard
        self.pending_ticks: dict[str, Tick] = {}
        self.since_snapshot = 0
        log.info("cfd desk %d: recovered to input %d (snapshot %s, %d replayed), %d open positions", shard,
                 report["seq"], report["snapshot"], report["replayed"], len(self.engine.positions))

    # ---- recovery of the database side
    def catch_up(self) -> list[Result]:
        """Inputs the engine applied but the database has not seen (re-derived by replay)."""
        cursor = CfdCursor.get_or_none(CfdCursor.shard == self.shard)
        db_seq = cursor.seq if cursor else 0
        if db_seq >= self.engine.seq:
            return []
        s = self.runtime.settings
        replica = CfdEngine(self.ticks, s.cfd_mmr, s.fee_rate, id_stride=self.engine.id_stride,
                            id_offset=self.engine.id_offset)
        for _, seq, blob in self.snapshots.load():
            if seq <= db_seq:
                replica = CfdEngine.restore(blob, self.ticks, s.cfd_mmr, s.fee_rate)
                break
        results = []
        for seq, item in self.journal.replay(replica.seq):
            events = replica.apply(seq, item)
            if seq > db_seq:
                results.append((seq, item, events))
        log.info("cfd desk %d: replaying inputs %d..%d into the database", self.shard, db_seq + 1, self.engine.seq)
        return results

    # ---- inputs
    def on_tick(self, tick: PriceTick) -> None:
        """Ticks are journaled only when they matter: a symbol with open positions, or before a command."""
        if tick.symbol not in self.runtime.specs:
            return
        pending = self.pending_ticks.get(tick.symbol)
        applied = self.engine.quotes.get(tick.symbol)
        if (pending is not None and pending.ts > tick.ts) or (applied is not None and applied[3] >= tick.ts):
            return  # an older tick never moves the market back; a repeated one is not a new input
        self.pending_ticks[tick.symbol] = Tick(tick.symbol, tick.bid, tick.ask, tick.price, tick.ts)

    def needs_tick(self, symbol: str) -> bool:
        return self.engine.has_open(symbol)

    def run(self, requests: list[CfdRequest], balances: BalanceCache) -> tuple[list[Result], dict[str, Any]]:
        """Journal, then apply, this batch's inputs. Returns the results and, per request msg_id, an
        immediate problem reply for requests refused before reaching the engine."""
        inputs: list[Input] = []
        refused: dict[str, Any] = {}
        for symbol, tick in list(self.pending_ticks.items()):
            if self.engine.has_open(symbol) or requests:
                inputs.append(tick)
                del self.pending_ticks[symbol]
        for req in requests:
            if req.cmd_id in self.engine.applied:
                continue  # a retry: the reply is built from the projection
            grant = f"grant:{req.user_id}"
            if grant not in self.engine.applied and self.runtime.settings.cfd_starting_margin > 0 and \
                    not any(getattr(i, "cmd_id", None) == grant for i in inputs):
                inputs.append(Deposit(grant, req.user_id, self.runtime.settings.cfd_starting_margin))
            try:
                command = self._command(req, balances)
            except CfdError as exc:
                refused[req.msg_id] = (409 if exc.code == "NO_FUNDS" else 400, exc.message)
                continue
            inputs.append(command)
        if not inputs:
            return [], refused
        first = self.engine.seq + 1
        numbered = list(enumerate(inputs, start=first))
        self.journal.append(numbered)
        results = [(seq, item, self.engine.apply(seq, item)) for seq, item in numbered]
        self.since_snapshot += len(numbered)
        return results, refused

    def _command(self, req: CfdRequest, balances: BalanceCache) -> Input:
        p, uid, cid = req.params, req.user_id, req.cmd_id
        if req.action == "TRANSFER":
            amount = Decimal(p["amount"])
            if p["direction"] == "TO_MARGIN":
                free = balances.account(user_free(uid)).get("USDT", Decimal(0))
                if free < amount:
                    raise CfdError(f"only {to_str(free)} USDT free in the spot wallet", "amount", "NO_FUNDS")
                return Deposit(cid, uid, amount)
            return Withdraw(cid, uid, amount)
        if req.action == "OPEN":
            return OpenPosition(cid, uid, p["symbol"], Direction(p["direction"]), Decimal(p["margin"]),
                                Decimal(p["leverage"]), _dec(p.get("stopLossPrice")), _dec(p.get("takeProfitPrice")))
        if req.action == "AMEND":
            return Amend(cid, uid, int(p["positionId"]), _dec(p.get("stopLossPrice")), _dec(p.get("takeProfitPrice")),
                         bool(p.get("clearStopLoss")), bool(p.get("clearTakeProfit")))
        return ClosePosition(cid, uid, int(p["positionId"]))

    # ---- the database side (inside the Executor's transaction)
    def persist(self, results: list[Result], balances: BalanceCache) -> list[dict[str, Any]]:
        """Ledger, projections and the cursor for `results`; returns the user events to publish."""
        events: list[dict[str, Any]] = []
        now = now_ms()
        for seq, _, produced in results:
            for ev in produced:
                self._persist_event(ev, balances, now)
                data = event_json(ev)
                data["event"] = ev.kind
                data["account"] = {"balance": to_str(self.engine.balances.get(ev.user_id, Decimal(0)))}
                events.append({"user_id": ev.user_id, "kind": "CFD_UPDATE", "cause": f"cfd:{self.shard}:{seq}",
                               "data": data})
        if results:
            last = results[-1][0]
            CfdCursor.insert(shard=self.shard, seq=last).on_conflict(
                conflict_target=[CfdCursor.shard], update={CfdCursor.seq: last}).execute()
        return events

    def _persist_event(self, ev: Event, balances: BalanceCache, now: int) -> None:
        uid = ev.user_id
        if ev.kind == "TRANSFERRED":
            amount: Decimal = ev.data["amount"]
            cid = ev.data["cmdId"]
            if cid.startswith("grant:"):
                entry = transfer("cfd", cid, "grant", "USDT", amount, grants_of(self.shard), bridge_of(self.shard))
            elif amount > 0:
                entry = transfer("cfd", cid, "to_margin", "USDT", amount, user_free(uid), bridge_of(self.shard))
            else:
                entry = transfer("cfd", cid, "to_spot", "USDT", -amount, bridge_of(self.shard), user_free(uid))
            post_entries([entry], now, balances)
        elif ev.kind in ("OPENED", "UPDATED"):
            pos = ev.data["position"]
            row = position_json(pos)
            fields = {"user_id": uid, "symbol": pos.symbol, "direction": pos.direction.value, "margin": pos.margin,
                      "leverage": pos.leverage, "entry_price": pos.entry, "quantity": pos.qty,
                      "liquidation_price": pos.liquidation, "stop_loss": pos.stop_loss,
                      "take_profit": pos.take_profit, "status": "OPEN"}
            if ev.kind == "OPENED":
                CfdPosition.insert(id=row["id"], cmd_id=ev.data["cmdId"], open_fee=ev.data["fee"], opened_at=now,
                                   **fields).on_conflict_ignore().execute()
            else:
                CfdPosition.update(stop_loss=pos.stop_loss, take_profit=pos.take_profit,
                                   version=CfdPosition.version + 1).where(CfdPosition.id == pos.id).execute()
        elif ev.kind in CLOSE_KINDS:
            pos = ev.data["position"]
            CfdPosition.update(status=ev.kind, exit_price=ev.data["exitPrice"], pnl=ev.data["pnl"],
                               close_fee=ev.data["fee"], payout=ev.data["payout"], closed_at=now,
                               version=CfdPosition.version + 1).where(CfdPosition.id == pos.id).execute()
        if ev.kind != "REJECTED":
            CfdAccount.insert(user_id=uid, balance=self.engine.balances.get(uid, Decimal(0)), updated_at=now) \
                .on_conflict(conflict_target=[CfdAccount.user_id],
                             update={CfdAccount.balance: self.engine.balances.get(uid, Decimal(0)),
                                     CfdAccount.updated_at: now}).execute()

    def maybe_snapshot(self) -> None:
        """After the database holds everything: snapshots never run ahead of the cursor."""
        if self.since_snapshot >= self.runtime.settings.cfd_snapshot_every:
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


def reply_for(req: CfdRequest, results: list[Result]) -> tuple[int, dict[str, Any]] | None:
    """The HTTP answer for a request from its events (None: a retry; answer from the projection)."""
    for _, item, events in results:
        if getattr(item, "cmd_id", None) != req.cmd_id:
            continue
        for ev in events:
            data = event_json(ev)
            if ev.kind == "REJECTED":
                status = {"NOT_OPEN": 404, "NO_FUNDS": 409, "NO_PRICE": 503}.get(data["code"], 400)
                return status, {"detail": data["reason"], "field": data.get("field"), "code": data["code"]}
            if ev.kind == "OPENED":
                return 201, {"position": data["position"], "fee": data["fee"], "balance": data["balance"]}
            if ev.kind == "TRANSFERRED":
                return 200, {"amount": data["amount"], "balance": data["balance"]}
            return 200, {"event": ev.kind, **data}
    return None

"""Tables. The database is Troupe's system of record; Redis only carries messages."""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
    IntegerField,
    Model,
    TextField,
)

from app.clock import now_ms
from app.persistence.db import db
from app.persistence.fields import IdField, MoneyField


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class User(BaseModel):
    id = IdField()
    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=100)
    token_version = IntegerField(default=0)
    created_at = BigIntegerField(default=now_ms)
    disabled_at = BigIntegerField(null=True)  # a disabled account's sessions are all dead


class UserSession(BaseModel):
    """A sign-in: every token names one, and a token is good only while its session is alive."""

    id = CharField(max_length=32, primary_key=True)  # random, unguessable; the token's `sid`
    user_id = IntegerField(index=True)
    kind = CharField(max_length=8)  # "browser" (cookie) or "api" (bearer)
    created_at = BigIntegerField(default=now_ms)
    expires_at = BigIntegerField()
    revoked_at = BigIntegerField(null=True)
    ip = CharField(max_length=64, null=True)
    user_agent = CharField(max_length=256, null=True)

    class Meta:
        table_name = "user_session"


class ExchangeKey(BaseModel):
    """A user's exchange API key pair, AES-GCM encrypted and bound to the user and exchange."""

    user_id = IntegerField()
    exchange = CharField(max_length=20)
    api_key_enc = BlobField()
    secret_enc = BlobField()
    api_key_last4 = CharField(max_length=4)
    created_at = BigIntegerField(default=now_ms)

    class Meta:
        primary_key = CompositeKey("user_id", "exchange")


class Order(BaseModel):
    id = IdField()
    user_id = IntegerField(index=True)
    client_order_id = CharField(max_length=36)
    symbol = CharField(max_length=20)
    side = CharField(max_length=4)
    type = CharField(max_length=20)
    time_in_force = CharField(max_length=3, null=True)
    quantity = MoneyField(null=True)
    quote_order_qty = MoneyField(null=True)
    price = MoneyField(null=True)
    status = CharField(max_length=20, index=True)
    executed_qty = MoneyField()
    cumm_quote_qty = MoneyField()
    locked = MoneyField()
    fill_count = IntegerField(default=0)
    reject_reason = TextField(null=True)
    created_at = BigIntegerField(default=now_ms)
    updated_at = BigIntegerField(default=now_ms)
    version = IntegerField(default=0)  # increases with every change; clients drop older updates
    # EXCHANGE=binance: when the order was (last) sent, in exchange time (null: never sent), and
    # Binance's id for it. A sent order whose answer was lost is found again by its clientOrderId.
    exchange_sent_at = BigIntegerField(null=True)
    exchange_order_id = BigIntegerField(null=True)
    # Stop-loss / take-profit: the trigger, the trailing extreme since activation, and whether it fired.
    stop_price = MoneyField(null=True)
    trailing_delta = IntegerField(null=True)
    trail_extreme = MoneyField(null=True)
    triggered = BooleanField(default=False)
    order_list_id = IntegerField(null=True)  # OCO: the id of the list's first order, on both legs
    api_key_id = IntegerField(null=True)  # placed through the Binance-compatible API with this key (null: not)
    replaces_order_id = IntegerField(null=True)  # an amend: the order this one replaces (cancel + place, one batch)

    class Meta:
        indexes = ((("user_id", "client_order_id"), True), (("user_id", "status"), False))


class Fill(BaseModel):
    id = IdField()
    order_id = IntegerField()
    seq = IntegerField()
    price = MoneyField()
    qty = MoneyField()
    quote_qty = MoneyField()
    commission = MoneyField()
    commission_asset = CharField(max_length=10)
    created_at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = ((("order_id", "seq"), True),)


class LedgerRow(BaseModel):
    id = IdField()
    account = CharField(max_length=64)
    asset = CharField(max_length=10)
    delta = MoneyField()
    kind = CharField(max_length=16)
    ref_type = CharField(max_length=16)
    ref_id = CharField(max_length=64)
    leg = CharField(max_length=16)
    created_at = BigIntegerField(default=now_ms)

    class Meta:
        table_name = "ledger"
        indexes = ((("ref_type", "ref_id", "leg"), True), (("account", "asset"), False))


class Balance(BaseModel):
    """A cache of Σ ledger.delta per (account, asset), updated in the same transaction."""

    account = CharField(max_length=64)
    asset = CharField(max_length=10)
    amount = MoneyField()

    class Meta:
        primary_key = CompositeKey("account", "asset")


class Position(BaseModel):
    user_id = IntegerField()
    asset = CharField(max_length=10)
    quantity = MoneyField()
    avg_entry = MoneyField()
    realized_pnl = MoneyField()

    class Meta:
        primary_key = CompositeKey("user_id", "asset")


class ExchangeBalance(BaseModel):
    """EXCHANGE=binance: the user's balances as the exchange last reported them."""

    user_id = IntegerField()
    asset = CharField(max_length=20)
    free = MoneyField()
    locked = MoneyField()
    updated_at = BigIntegerField(default=now_ms)

    class Meta:
        primary_key = CompositeKey("user_id", "asset")


class CfdAccount(BaseModel):
    """Projection of the CFD engine: a user's free margin (the engine's journal is the truth)."""

    user_id = IntegerField(primary_key=True)
    balance = MoneyField()
    updated_at = BigIntegerField(default=now_ms)


class CfdPosition(BaseModel):
    """Projection of the CFD engine: every position, open or closed, for the API and history."""

    id = BigIntegerField(primary_key=True)
    user_id = IntegerField(index=True)
    cmd_id = CharField(max_length=64, index=True)
    symbol = CharField(max_length=20)
    direction = CharField(max_length=5)
    margin = MoneyField()
    leverage = MoneyField()
    entry_price = MoneyField()
    quantity = MoneyField()
    liquidation_price = MoneyField()
    stop_loss = MoneyField(null=True)
    take_profit = MoneyField(null=True)
    status = CharField(max_length=12)  # OPEN CLOSED STOP_LOSS TAKE_PROFIT LIQUIDATED
    open_fee = MoneyField()
    exit_price = MoneyField(null=True)
    pnl = MoneyField(null=True)
    close_fee = MoneyField(null=True)
    payout = MoneyField(null=True)
    opened_at = BigIntegerField(default=now_ms)
    closed_at = BigIntegerField(null=True)
    version = IntegerField(default=0)


class CfdCursor(BaseModel):
    """Per shard: the last engine input whose effects this database holds."""

    shard = IntegerField(primary_key=True)
    seq = BigIntegerField()


class Outbox(BaseModel):
    """Messages committed with the state change that caused them; relayed to Redis after commit."""

    id = CharField(max_length=40, primary_key=True)  # time-ordered, generated by the writer
    origin = CharField(max_length=64, index=True)
    stream = CharField(max_length=128)
    payload = TextField()
    created_at = BigIntegerField(default=now_ms)


class Inbox(BaseModel):
    """Ids of messages whose effect is committed, written in the effect's own transaction."""

    consumer = CharField(max_length=64)
    msg_id = CharField(max_length=80)
    created_at = BigIntegerField(default=now_ms)

    class Meta:
        primary_key = CompositeKey("consumer", "msg_id")


class EquityPoint(BaseModel):
    """A user's total equity in USDT at a moment (spot balances at marks plus CFD equity), recorded by the
    user's executor shard every minute, after a batch that filled one of its orders, and at a reset.

    `flow` is equity that came from outside trading (a reset's fresh wallet minus what it swept): not PnL.
    """

    id = IdField()
    user_id = IntegerField()
    at = BigIntegerField()
    equity = MoneyField()
    flow = MoneyField()
    reason = CharField(max_length=8)  # MINUTE FILL RESET

    class Meta:
        table_name = "equity_point"
        indexes = ((("user_id", "at"), False),)


class AccountReset(BaseModel):
    """An account reset (orders canceled, CFD positions closed, wallet swept and given afresh), written in
    the transaction that did it: the row is also the command's dedupe (its `request_key` is unique)."""

    id = IdField()
    user_id = IntegerField()
    number = IntegerField()  # 1 for the user's first reset
    request_key = CharField(max_length=80, unique=True)  # u<user>:<clientRequestId>
    at = BigIntegerField()
    equity_before = MoneyField()
    equity_after = MoneyField()
    canceled_orders = IntegerField()
    closed_positions = IntegerField()

    class Meta:
        table_name = "account_reset"
        indexes = ((("user_id", "number"), True),)


ALL_MODELS = [User, UserSession, ExchangeKey, Order, Fill, LedgerRow, Balance, Position, ExchangeBalance,
              CfdAccount, CfdPosition, CfdCursor, Outbox, Inbox]


# --- Sessions that renew, and the security activity log (issue 11) ---------------------------------


class RefreshToken(BaseModel):
    """One refresh token of a session, by the SHA-256 of its text (the token itself is never stored).

    Each renewal marks the token used and issues the next; a used token presented again is a stolen
    copy (or a stolen original), and ends its session.
    """

    token_hash = CharField(max_length=64, primary_key=True)
    sid = CharField(max_length=32, index=True)
    user_id = IntegerField()
    created_at = BigIntegerField(default=now_ms)  # the session's last renewal, when this is its newest token
    used_at = BigIntegerField(null=True)

    class Meta:
        table_name = "refresh_token"


class SecurityEvent(BaseModel):
    """A row of a user's security activity: sign-ins, renewals gone wrong, sign-outs, password changes."""

    id = IdField()
    user_id = IntegerField(null=True)  # None: a failed sign-in for an e-mail no account has
    kind = CharField(max_length=32)
    created_at = BigIntegerField(default=now_ms)
    ip = CharField(max_length=64, null=True)
    user_agent = CharField(max_length=256, null=True)
    detail = TextField(null=True)  # a JSON object of short strings

    class Meta:
        table_name = "security_event"
        indexes = ((("user_id", "id"), False),)


ALL_MODELS += [RefreshToken, SecurityEvent]


# --- API keys for bots (issue 11) ------------------------------------------------------------------

class ApiKey(BaseModel):
    """A bot's API key: found by the SHA-256 of the key (never stored itself); its secret sealed by
    the vault, bound to the user and this row's id; `revoked_at` kept for the record."""

    id = IdField()
    user_id = IntegerField(index=True)
    key_hash = CharField(max_length=64, unique=True)
    key_last4 = CharField(max_length=4)
    secret_enc = BlobField()
    label = CharField(max_length=64)
    permissions = CharField(max_length=32)  # comma-separated, from app.api_keys.PERMISSIONS
    ip_allowlist = TextField(default="")  # comma-separated networks; empty: any address
    created_at = BigIntegerField(default=now_ms)
    expires_at = BigIntegerField(null=True)
    revoked_at = BigIntegerField(null=True)
    last_used_at = BigIntegerField(null=True)
    last_used_ip = CharField(max_length=64, null=True)
    seen_ips = TextField(default="")  # the latest addresses it was used from, comma-separated


ALL_MODELS.append(ApiKey)
ALL_MODELS += [EquityPoint, AccountReset]


# --- Key rotation (issue 13, migration 2) ---------------------------------------------------------

class MasterKeySeal(BaseModel):
    """One row (id 1): the fingerprint of the MASTER_KEY that sealed every stored secret, written by
    `troupe keys rotate-master` in the transaction that re-seals them (absent: never rotated)."""

    id = IntegerField(primary_key=True)
    fingerprint = CharField(max_length=64)
    sealed_at = BigIntegerField()

    class Meta:
        table_name = "master_key_seal"


ALL_MODELS.append(MasterKeySeal)


# --- Settings the stored data is laid out by (migration 5) ------------------------------------------

class DeploymentFact(BaseModel):
    """A setting the data depends on, pinned at the first start and checked at every later one
    (`app/deployment.py`): `executor_shards`, since accounts, house accounts and CFD ids follow it."""

    name = CharField(primary_key=True, max_length=64)
    value = CharField(max_length=200)

    class Meta:
        table_name = "deployment_fact"


ALL_MODELS.append(DeploymentFact)

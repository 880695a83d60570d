"""What the operator's CLI does (app/cli.py only parses and prints): users, account resets, the `check`
probes, schema migrations and backups (`db …`) and MASTER_KEY rotation (`keys rotate-master`).

Plain functions over Settings, no HTTP: they open the database through app/persistence, and reach
running servers only through Redis (the sign-out channel), never through the web layer.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import redis
from peewee import PeeweeException

from app.accounts import EmailTaken, open_account
from app.deployment import check_executor_shards, shard_count
from app.domain.answers import Answer
from app.domain.symbols import build_specs
from app.embedded_redis import EmbeddedRedis, redis_server_path
from app.messages import PriceTick, decode
from app.messaging.auth_notices import AuthNotice, publish_sync
from app.messaging.names import Names
from app.messaging.streams import connect_once
from app.persistence.backup import backup_sqlite, default_backup_path
from app.persistence.db import db, probe_database
from app.persistence.migrations import MIGRATIONS, SchemaTooNew, applied_versions, pending
from app.persistence.schema import connect_database, init_database, migrate_schema
from app.persistence.sessions import disable_user
from app.persistence.users import all_users, user_by_email
from app.preflight import one_line, redact
from app.reset import ask_reset
from app.schemas import EMAIL
from app.security.keystore import resolve_secrets
from app.security.passwords import check_policy, hash_password
from app.security.rotation import Rotated, RotationError, rotate
from app.security.vault import Vault
from settings import MAX_SHARDS, ConfigError, Settings

PROBE_TIMEOUT_S = 3
RESET_TIMEOUT_S = 30.0
DISABLED_REASON = "account disabled"


class AdminError(Exception):
    """The command cannot be done; the message says why, in one line (exit status 1)."""


@dataclass(frozen=True, slots=True)
class UserSummary:
    id: int
    email: str
    created_at: int  # epoch ms
    disabled: bool


@dataclass(frozen=True, slots=True)
class Disabled:
    user_id: int
    was_enabled: bool  # False: it was disabled already (its sessions are ended again all the same)
    notified: int | None  # web processes that received the notice; None: no Redis reached
    redis_error: str = ""


@dataclass(frozen=True, slots=True)
class ResetDone:
    user_id: int
    request_id: str
    number: int  # the account's n-th reset
    canceled_orders: int
    closed_positions: int
    equity_before: str  # USDT, plain decimal text
    equity_after: str
    repeated: bool  # this request id had reset the account before: nothing was done again


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def redis_url_of(settings: Settings) -> str:
    """REDIS_URL, or the socket of the bundled server a running `troupe serve` on DATA_DIR has."""
    return settings.redis_url or EmbeddedRedis(settings.data_dir).url


def _sqlite_path(settings: Settings) -> Path | None:
    url = settings.resolved_database_url
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def _open(settings: Settings, create: bool) -> None:
    """Bind the database (creating missing tables); an absent SQLite file is created only if `create`."""
    path = _sqlite_path(settings)
    if path is not None and not path.exists():
        if not create:
            raise AdminError(f"no database yet at {path} (DATA_DIR {settings.data_dir}): nothing to show or change")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        init_database(settings.resolved_database_url)
    except SchemaTooNew as exc:
        raise AdminError(str(exc)) from None
    except (PeeweeException, OSError) as exc:
        raise AdminError(f"database {redact(settings.resolved_database_url)}: {one_line(exc)}") from None


def _close() -> None:
    if db.obj is not None and not db.is_closed():
        db.close()


def _marks(settings: Settings) -> dict[str, Decimal]:
    """The latest price per base asset, if a server's PriceFeed left any in Redis (else none: zero)."""
    specs = build_specs(settings.symbols)
    client = connect_once(redis_url_of(settings), PROBE_TIMEOUT_S)
    try:
        raw = client.hgetall(Names(settings.stream_prefix).prices)
    except (redis.RedisError, OSError):
        return {}
    finally:
        client.close()
    ticks = [decode(value) for value in raw.values()]
    return {specs[t.symbol].base: t.price for t in ticks if isinstance(t, PriceTick) and t.symbol in specs}


def create_user(settings: Settings, email: str, password: str) -> UserSummary:
    """Open an account with the starting wallet, as registering does; raises AdminError."""
    email = email.strip().lower()
    if not re.fullmatch(EMAIL, email):
        raise AdminError(f"{email!r} is not an e-mail address")
    check_policy(password)  # PasswordPolicyError names the rule
    hashed = hash_password(password, settings.bcrypt_rounds)
    _, master_key = resolve_secrets(settings.data_dir, settings.jwt_secret, settings.master_key)
    _open(settings, create=True)
    try:
        # Pinned first, as a node's first start would: the new account must not make a new database look
        # like one from before the pin (which would keep the old default of two shards).
        _pin_shards(settings)
        user = open_account(email, hashed, settings.starting_wallet, _marks(settings), Vault(master_key), None, None)
    except EmailTaken:
        raise AdminError(f"{email} is taken") from None
    finally:
        _close()
    return UserSummary(int(user.id), user.email, int(user.created_at), False)


def list_users(settings: Settings) -> list[UserSummary]:
    _open(settings, create=False)
    try:
        return [UserSummary(int(u.id), u.email, int(u.created_at), u.disabled_at is not None) for u in all_users()]
    finally:
        _close()


def _pin_shards(settings: Settings) -> int:
    """The executor shard count as a node would start with it (EXECUTOR_SHARDS, unset: what the data says),
    pinned; on the open database. A command reaches an account's shard only with the count the data is
    sharded by."""
    try:
        shards = shard_count(settings)
        check_executor_shards(shards)
        return shards
    except ConfigError as exc:
        raise AdminError(str(exc)) from None


def _find_user(email: str) -> int:
    """The id of the account with `email` (compared lower-cased), on the open database; AdminError if none."""
    email = email.strip().lower()
    user = user_by_email(email)
    if user is None:
        raise AdminError(f"no user {email}")
    return int(user.id)


def _user_id(settings: Settings, email: str) -> int:
    """The id of the account with `email` (compared lower-cased); AdminError if there is none."""
    _open(settings, create=False)
    try:
        return _find_user(email)
    finally:
        _close()


def disable_account(settings: Settings, email: str) -> Disabled:
    """Disable the account and end its sessions in the database, then tell every running web
    process at once (the notice web/auth_guard.py listens for), so none keeps a cached session."""
    user_id = _user_id(settings, email)
    _open(settings, create=False)
    try:
        was_enabled = disable_user(user_id)
    finally:
        _close()
    url = redis_url_of(settings)
    try:
        notified = publish_sync(url, Names(settings.stream_prefix).auth_notices,
                                AuthNotice(user_id=user_id, reason=DISABLED_REASON))
    except (redis.RedisError, OSError) as exc:
        return Disabled(user_id, was_enabled, None, f"Redis {redact(url)}: {one_line(exc)}")
    return Disabled(user_id, was_enabled, notified)


def reset_account(settings: Settings, email: str, request_id: str | None = None,
                  timeout_s: float = RESET_TIMEOUT_S) -> ResetDone:
    """Reset the account the way `POST /api/account/reset` does (`app/reset.py`): a command to its
    executor shard in a running server, answered once committed; the same `request_id` again resets
    nothing more. Raises AdminError (no such user, no answer in time, refused)."""
    if settings.exchange == "binance":
        raise AdminError("an account can be reset with EXCHANGE=simulator only")
    _open(settings, create=False)
    try:
        user_id, shards = _find_user(email), _pin_shards(settings)
    finally:
        _close()
    request_id = request_id or f"cli-{os.urandom(8).hex()}"
    url = redis_url_of(settings)
    client = connect_once(url, PROBE_TIMEOUT_S)
    try:
        reply = ask_reset(client, Names(settings.stream_prefix), shards, user_id, request_id,
                          timeout_s)
    except (redis.RedisError, OSError) as exc:
        raise AdminError(f"Redis {redact(url)}: {one_line(exc)}") from None
    finally:
        client.close()
    if reply is None:
        raise AdminError(f"no executor answered within {timeout_s:g} s (is `troupe serve` running?); the reset "
                         f"waits in its mailbox and happens once when it runs; run again with --request-id "
                         f"{request_id} to see its result without resetting twice")
    if reply.answer == Answer.REJECTED:
        raise AdminError(f"reset refused: {reply.message}")
    body = reply.body["reset"]
    return ResetDone(user_id, request_id, int(body["number"]), int(body["canceledOrders"]),
                     int(body["closedPositions"]), str(body["equityBefore"]), str(body["equityAfter"]),
                     bool(reply.body.get("repeated")))


def check(settings: Settings) -> list[Check]:
    """One probe per line: DATA_DIR, the database, Redis. Nothing is created or started."""
    return [_check_data_dir(settings.data_dir), _check_database(settings), _check_redis(settings)]


def _check_data_dir(path: Path) -> Check:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        return Check("data dir", False, f"DATA_DIR {path}: {existing} is not writable")
    return Check("data dir", True, f"{path.resolve()} " + ("writable" if existing == path else "(created at start)"))


def _check_database(settings: Settings) -> Check:
    url = settings.resolved_database_url
    path = _sqlite_path(settings)
    if path is not None and not path.exists():
        return Check("database", True, f"{redact(url)} (the SQLite file is created at start)")
    try:
        probe_database(url, PROBE_TIMEOUT_S)
    except (PeeweeException, OSError, ValueError) as exc:
        return Check("database", False, f"DATABASE_URL {redact(url)}: {one_line(exc)}")
    return Check("database", True, f"{redact(url)} answers")


def _check_redis(settings: Settings) -> Check:
    url = redis_url_of(settings)
    client = connect_once(url, PROBE_TIMEOUT_S)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    except (redis.RedisError, OSError, ValueError) as exc:
        if settings.redis_url:
            return Check("redis", False, f"REDIS_URL {redact(url)}: {one_line(exc)}")
        server = redis_server_path()
        if not os.access(server, os.X_OK):
            return Check("redis", False, f"REDIS_URL unset and the bundled redis-server is missing at {server}")
        return Check("redis", True, f"bundled redis-server {server} (not running: started by `serve`)")
    finally:
        client.close()
    where = redact(url) if settings.redis_url else f"bundled, at {EmbeddedRedis(settings.data_dir).socket}"
    return Check("redis", True, f"Redis {version} answers ({where})")


# --- db migrate|status|backup, keys rotate-master (issue 13) --------------------------------------

@dataclass(frozen=True, slots=True)
class SchemaStatus:
    database: str  # redacted URL
    exists: bool  # False: an SQLite file not created yet
    version: int  # 0: before the baseline
    legacy: bool  # tables but no schema_version: a database from before migrations
    pending: list[str]  # labels, in order


@dataclass(frozen=True, slots=True)
class Migrated:
    applied: list[str]
    version: int
    backup: Path | None  # the online copy made first (SQLite with something to apply)


class NotSQLite(AdminError):
    """`db backup` on PostgreSQL: Troupe does not dump it, pg_dump does (exit status 1: no backup made)."""


def _bind(settings: Settings) -> None:
    try:
        connect_database(settings.resolved_database_url)
        db.connect(reuse_if_open=True)
    except (PeeweeException, OSError) as exc:
        raise AdminError(f"database {redact(settings.resolved_database_url)}: {one_line(exc)}") from None


def schema_status(settings: Settings) -> SchemaStatus:
    """The schema version and the migrations pending, changing nothing (not even creating the file)."""
    url = redact(settings.resolved_database_url)
    path = _sqlite_path(settings)
    if path is not None and not path.exists():
        return SchemaStatus(url, False, 0, False, [m.label for m in MIGRATIONS])
    _bind(settings)
    try:
        versions = applied_versions()
        todo = pending()
        legacy = not versions and bool(db.get_tables())
    except SchemaTooNew as exc:
        raise AdminError(str(exc)) from None
    except PeeweeException as exc:
        raise AdminError(f"database {url}: {one_line(exc)}") from None
    finally:
        _close()
    return SchemaStatus(url, True, max(versions, default=0), legacy, [m.label for m in todo])


def migrate_database(settings: Settings) -> Migrated:
    """Apply every pending migration, after an online backup of an SQLite file that has tables."""
    path = _sqlite_path(settings)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    _bind(settings)
    try:
        todo = pending()
        copy = None
        if todo and path is not None and db.get_tables():
            copy = default_backup_path(path, f"before-{todo[0].label}")
            backup_sqlite(path, copy)
        applied = migrate_schema(db.obj, backup=False)
        return Migrated([m.label for m in applied], max(applied_versions(), default=0), copy)
    except SchemaTooNew as exc:
        raise AdminError(str(exc)) from None
    except PeeweeException as exc:
        raise AdminError(f"database {redact(settings.resolved_database_url)}: {one_line(exc)}") from None
    finally:
        _close()


def backup_database(settings: Settings, destination: Path | None) -> tuple[Path, int]:
    """An online copy of the SQLite database (to `destination`, or DATA_DIR/backups/…); (path, bytes)."""
    path = _sqlite_path(settings)
    if path is None:
        raise NotSQLite(f"DATABASE_URL is PostgreSQL: Troupe does not dump it; back it up with pg_dump, e.g. "
                        f"pg_dump --format=custom --file=troupe.dump '{redact(settings.resolved_database_url)}' "
                        f"(restore with pg_restore); no backup was made")
    if not path.exists():
        raise AdminError(f"no database yet at {path} (DATA_DIR {settings.data_dir}): nothing to back up")
    target = destination or default_backup_path(path)
    if target.is_dir():
        target = target / default_backup_path(path).name
    try:
        return target, backup_sqlite(path, target)
    except (OSError, sqlite3.Error) as exc:
        raise AdminError(f"backup to {target}: {one_line(exc)}") from None


def rotate_master_key(settings: Settings) -> Rotated:
    """Re-seal every exchange secret and API-key secret under a new MASTER_KEY kept in DATA_DIR.

    Refused while a server runs (an executor holds a shard lease in Redis): it would go on sealing
    new secrets with the old key it holds in memory. Run again after a crash to complete it.
    """
    if settings.master_key:
        raise AdminError("MASTER_KEY is set in the environment: a rotation replaces DATA_DIR/master_key; put the "
                         "key in that file (mode 0600), unset MASTER_KEY, and run this again")
    running = _running_server(settings)
    if running:
        raise AdminError(f"a server is running ({running}): stop every server on this database first")
    _open(settings, create=False)
    try:
        return rotate(settings.data_dir)
    except RotationError as exc:
        raise AdminError(str(exc)) from None
    finally:
        _close()


def _running_server(settings: Settings) -> str:
    """What shows a live server: an executor's shard lease in Redis (none reachable: no server)."""
    names = Names(settings.stream_prefix)
    client = connect_once(redis_url_of(settings), PROBE_TIMEOUT_S)
    try:
        # Every possible shard (EXECUTOR_SHARDS allows 64), in one MGET: unset, the count is the data's.
        holders = client.mget([names.shard_lease(shard) for shard in range(MAX_SHARDS)])
        for shard, holder in enumerate(holders):
            if holder is not None:
                node = holder.decode() if isinstance(holder, bytes) else str(holder)
                return f"node {node} holds executor shard {shard}"
    except (redis.RedisError, OSError):
        return ""
    finally:
        client.close()
    return ""

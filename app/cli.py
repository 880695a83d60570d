"""The command line: one argparse tree for `troupe …` (the binary) and `python run.py …` (source).

It only parses and prints: the work is in app/admin.py, and `serve` is handed in by run.py (the
server starts the web layer, which app/ may not import). Flags override the environment, which
keeps working; `--help` and `--version` return before anything is read, started or written.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from app.version import VERSION
from settings import ConfigError, Settings, load_settings

Serve = Callable[[Settings], int]

# Flag (argparse dest) -> the environment variable it overrides.
STORAGE_FLAGS = {"data_dir": "DATA_DIR", "database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}
SERVER_FLAGS = {"host": "HOST", "port": "PORT", "exchange": "EXCHANGE", "log_level": "LOG_LEVEL"}
COMMANDS = ("serve", "user", "account", "db", "keys", "check")
EPILOG = "Every setting is also an environment variable (see the README); a flag wins over it."


def _storage_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("storage (override the environment)")
    group.add_argument("--data-dir", metavar="DIR", help="DATA_DIR: the SQLite file, secrets, the bundled Redis")
    group.add_argument("--database-url", metavar="URL", help="DATABASE_URL: sqlite:///… or postgresql://…")
    group.add_argument("--redis-url", metavar="URL", help="REDIS_URL: redis://… (unset: the bundled redis-server)")
    return parent


def _server_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("server (override the environment)")
    group.add_argument("--host", help="HOST to listen on (default 127.0.0.1)")
    group.add_argument("--port", help="PORT to listen on (default 8080; 0 picks a free one)")
    group.add_argument("--exchange", choices=("simulator", "binance"), help="EXCHANGE (default simulator)")
    group.add_argument("--log-level", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                       help="LOG_LEVEL (default INFO)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    storage, server = _storage_flags(), _server_flags()
    parser = argparse.ArgumentParser(
        prog="troupe", description="Troupe: a real-time crypto trading platform in one process.",
        epilog="With no command, `serve` runs. " + EPILOG)
    parser.add_argument("--version", action="version", version=f"troupe {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    commands.add_parser("serve", parents=[storage, server], help="run the server (the default)",
                        description="Run the server until SIGINT or SIGTERM.", epilog=EPILOG)

    user = commands.add_parser("user", help="create, list or disable users",
                               description="Manage user accounts in the configured database.")
    users = user.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)
    create = users.add_parser("create", parents=[storage], help="open an account with the starting wallet",
                              description="Open an account with STARTING_WALLET, as registering does.",
                              epilog=EPILOG)
    create.add_argument("email")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input (else: prompt twice)")
    users.add_parser("list", parents=[storage], help="list every user", description="List every user.",
                     epilog=EPILOG)
    disable = users.add_parser(
        "disable", parents=[storage], help="disable an account and end its sessions now",
        description="Disable an account: its sessions end in the database, and running servers (reached "
                    "through Redis) drop them and close its WebSockets at once.", epilog=EPILOG)
    disable.add_argument("email")

    account = commands.add_parser("account", help="reset an account",
                                  description="Act on a user's trading account in a running server.")
    accounts = account.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)
    reset = accounts.add_parser(
        "reset", parents=[storage], help="start an account over: orders canceled, positions closed, a fresh wallet",
        description="Reset an account as POST /api/account/reset does: its open orders are canceled, its CFD "
                    "positions closed at market, and its wallet swept and given STARTING_WALLET afresh, as "
                    "ledger entries (nothing is deleted). The server's executor does it (reached through "
                    "Redis); the same --request-id again resets nothing more.", epilog=EPILOG)
    reset.add_argument("email")
    reset.add_argument("--request-id", metavar="ID", type=_request_id,
                       help="1-36 characters of A-Z a-z 0-9 _ -: repeat a reset's id to learn its result")

    database = commands.add_parser("db", help="schema migrations and backups",
                                   description="The database's schema version, its migrations and backups.")
    databases = database.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)
    databases.add_parser(
        "migrate", parents=[storage], help="apply pending schema migrations (an SQLite file is backed up first)",
        description="Apply every pending migration in order, each in its own transaction; an SQLite database "
                    "with tables is first copied online to DATA_DIR/backups/. The server does the same at start.",
        epilog=EPILOG)
    databases.add_parser("status", parents=[storage], help="print the schema version and pending migrations",
                         description="Print the schema version and the pending migrations; changes nothing.",
                         epilog=EPILOG)
    backup = databases.add_parser(
        "backup", parents=[storage], help="online backup of the SQLite database",
        description="Copy the SQLite database online (servers may keep running) with sqlite3's backup API. "
                    "For PostgreSQL it prints the pg_dump command to use and exits with status 1 (no backup "
                    "was made).", epilog=EPILOG)
    backup.add_argument("path", nargs="?", metavar="PATH", type=Path,
                        help="file or folder to write (default DATA_DIR/backups/troupe-<UTC time>.db)")

    keys = commands.add_parser("keys", help="rotate the MASTER_KEY",
                               description="Manage the MASTER_KEY that seals stored secrets.")
    key_actions = keys.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)
    key_actions.add_parser(
        "rotate-master", parents=[storage], help="re-seal every stored secret under a new MASTER_KEY",
        description="Re-encrypt every exchange secret and API-key secret under a new MASTER_KEY kept in "
                    "DATA_DIR/master_key, crash-safe: after an interruption, run it again (or start the server) "
                    "to complete it. Stop every server first; MASTER_KEY must not be set in the environment.",
        epilog=EPILOG)

    commands.add_parser("check", parents=[storage, server], help="validate settings, reach the database and Redis",
                        description="Validate the settings and reach the database and Redis, one line each; "
                                    "exit status 1 if any fails (2 for a bad setting).", epilog=EPILOG)
    return parser


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """`troupe` and `troupe --port 9000` mean `troupe serve …`; top-level --help/--version stay."""
    args = list(argv)
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help", "--version")):
        return ["serve", *args]
    return args


def _settings(args: argparse.Namespace) -> Settings:
    env = dict(os.environ)
    for dest, name in (STORAGE_FLAGS | SERVER_FLAGS).items():
        value = getattr(args, dest, None)
        if value is not None:
            env[name] = str(value)
    return load_settings(env)


def _fail(message: str, status: int) -> int:
    print("troupe: " + " ".join(message.split()), file=sys.stderr)
    return status


def main(argv: Sequence[str], serve: Serve) -> int:
    args = build_parser().parse_args(_with_default_command(argv))
    try:
        settings = _settings(args)
    except ConfigError as exc:
        if args.command == "check":
            print(f"settings: FAILED {exc}")
        return _fail(f"configuration error: {exc}", 2)
    if args.command == "serve":
        return serve(settings)
    from app import admin
    from app.security.passwords import PasswordPolicyError

    try:
        if args.command == "check":
            return _check(settings)
        if args.command == "account":
            return _account_reset(settings, args.email, args.request_id)
        if args.command == "db":
            return _db(settings, args)
        if args.command == "keys":
            return _rotate_master(settings)
        if args.action == "create":
            return _user_create(settings, args.email, _password(args.password_stdin))
        if args.action == "list":
            return _user_list(settings)
        return _user_disable(settings, args.email)
    except (admin.AdminError, PasswordPolicyError) as exc:
        return _fail(str(exc), 1)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        from app.admin import AdminError
        raise AdminError("no terminal to prompt for the password: pass --password-stdin and pipe it in")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        from app.admin import AdminError
        raise AdminError("the two passwords differ")
    return first


def _user_create(settings: Settings, email: str, password: str) -> int:
    from app.admin import create_user

    user = create_user(settings, email, password)
    print(f"created user {user.id} {user.email}")
    return 0


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _user_list(settings: Settings) -> int:
    from app.admin import list_users

    users = list_users(settings)
    width = max([len(u.email) for u in users] + [5])
    print(f"{'ID':>6}  {'EMAIL':<{width}}  {'CREATED (UTC)':<20}  STATUS")
    for u in users:
        print(f"{u.id:>6}  {u.email:<{width}}  {_when(u.created_at):<20}  {'disabled' if u.disabled else 'active'}")
    return 0


def _user_disable(settings: Settings, email: str) -> int:
    from app.admin import disable_account

    done = disable_account(settings, email)
    state = "disabled;" if done.was_enabled else "was already disabled;"
    if done.notified is None:
        print(f"user {done.user_id} {state} sessions ended in the database; no server told "
              f"({done.redis_error}): servers that are not running will see it when they start")
    else:
        print(f"user {done.user_id} {state} sessions ended; {done.notified} web process(es) told")
    return 0


def _request_id(value: str) -> str:
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,36}", value):
        raise argparse.ArgumentTypeError("must be 1-36 characters of A-Z a-z 0-9 _ -")
    return value


def _account_reset(settings: Settings, email: str, request_id: str | None) -> int:
    from app.admin import reset_account

    done = reset_account(settings, email, request_id)
    again = " (this request id had done it before: nothing more was reset)" if done.repeated else ""
    print(f"user {done.user_id} reset #{done.number}{again}: {done.canceled_orders} order(s) canceled, "
          f"{done.closed_positions} CFD position(s) closed; equity {done.equity_before} -> {done.equity_after} USDT "
          f"(request id {done.request_id})")
    return 0


def _check(settings: Settings) -> int:
    from app.admin import check

    print(f"settings: ok (ROLE {settings.role}, EXCHANGE {settings.exchange}, PRICE_FEED {settings.price_feed}, "
          f"{len(settings.symbols)} symbols, DATA_DIR {settings.data_dir})")
    results = check(settings)
    for line in results:
        print(f"{line.name}: {'ok' if line.ok else 'FAILED'} {line.detail}")
    return 0 if all(line.ok for line in results) else 1


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from app import admin

    if args.action == "status":
        status = admin.schema_status(settings)
        if not status.exists:
            print(f"database {status.database}: not created yet; pending: {', '.join(status.pending)}")
            return 0
        at = "none (a database from before migrations)" if status.legacy else f"{status.version}"
        print(f"database {status.database}: schema version {at}")
        print(f"pending: {', '.join(status.pending)}" if status.pending else "pending: none (up to date)")
        return 0
    if args.action == "migrate":
        done = admin.migrate_database(settings)
        if done.backup is not None:
            print(f"backed up to {done.backup}")
        for label in done.applied:
            print(f"applied {label}")
        print(f"schema version {done.version}" + ("" if done.applied else " (up to date: nothing to apply)"))
        return 0
    path, size = admin.backup_database(settings, args.path)
    print(f"backed up to {path} ({size} bytes)")
    return 0


def _rotate_master(settings: Settings) -> int:
    from app.admin import rotate_master_key

    done = rotate_master_key(settings)
    if done.resumed:
        print(done.resumed)
    print(f"MASTER_KEY rotated: {done.exchange_keys} exchange key pair(s) and {done.api_keys} API-key secret(s) "
          f"re-sealed; new key fingerprint {done.fingerprint}")
    return 0

"""Start-up checks, made before any actor starts, each failing with one line naming the setting.

In order: `DATA_DIR` can be created and written, the HTTP port can be bound (the listening
sockets are kept and handed to aiohttp, so nothing can take the port in between), the database
answers `SELECT 1` (its schema no newer than this code's; a MASTER_KEY rotation interrupted
after its commit is finished, a MASTER_KEY that did not seal the stored secrets refused:
app/security/rotation.py), and Redis answers PING, or, with `REDIS_URL` unset, the bundled
redis-server starts (the web node's one, for `ROLE=executor`, is already serving). Without these checks each
failure surfaced as a traceback from deep inside an actor, after others had started.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import redis
from peewee import PeeweeException

from app.deployment import shard_count
from app.embedded_redis import EmbeddedRedis
from app.messaging.streams import connect_once
from app.persistence.db import db, probe_database
from app.persistence.migrations import SchemaTooNew, pending
from app.persistence.schema import connect_database
from app.persistence.sealing import sealed_by
from app.security.rotation import RotationError, fingerprint, settle
from settings import Settings

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 3
LISTEN_BACKLOG = 128  # aiohttp's default
_USERINFO_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/?#@]*):[^/?#]*@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


class StartupError(Exception):
    """Why Troupe cannot start, in one line that names the setting and the cause."""


@dataclass
class Prepared:
    """What the checks opened and the server keeps: its listening sockets and the bundled Redis."""

    settings: Settings  # REDIS_URL resolved to the bundled server's socket when it was unset
    sockets: list[socket.socket] = field(default_factory=list)
    bundled: EmbeddedRedis | None = None

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        if self.bundled is not None:
            self.bundled.stop()


def preflight(settings: Settings) -> Prepared:
    """Run every check in order; raise StartupError at the first failure, leaving nothing open."""
    _check_data_dir(settings.data_dir)
    prepared = Prepared(settings)
    try:
        if settings.role != "executor":
            prepared.sockets = _listen(settings.host, settings.port)
        _check_database(settings)
        shards = _check_schema_and_keys(settings)
        redis_url, prepared.bundled = _redis(settings)
        prepared.settings = replace(settings, redis_url=redis_url, executor_shards=shards, shards_from_data=False)
    except BaseException:
        prepared.close()
        raise
    return prepared


def redact(url: str) -> str:
    """`url` without its password (in the userinfo or a `password=` parameter), safe to print."""
    url = _USERINFO_PASSWORD.sub(r"\1:***@", url, count=1)
    return _QUERY_PASSWORD.sub(r"\1***", url)


def one_line(exc: BaseException) -> str:
    """The first line of what a driver said (libpq adds hint lines), whitespace collapsed."""
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.splitlines()[0].split())


def _check_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise StartupError(f"DATA_DIR {path}: not writable ({exc.strerror or exc})") from None


def _listen(host: str, port: int) -> list[socket.socket]:
    """Listen on every address `host` resolves to, all on one port (the first one's, for PORT=0)."""
    where = f"PORT {port} on HOST {host}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"HOST {host}: cannot resolve it ({exc.strerror})") from None
    sockets: list[socket.socket] = []
    chosen = port
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does
            sock.bind((address[0], chosen, *address[2:]))
            sock.listen(LISTEN_BACKLOG)
            chosen = chosen or sock.getsockname()[1]
    except OSError as exc:
        for sock in sockets:
            sock.close()
        cause = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise StartupError(f"{where}: {cause}") from None
    return sockets


def _check_database(settings: Settings) -> None:
    url = settings.resolved_database_url
    name = "DATABASE_URL" if settings.database_url else "DATABASE_URL (unset: the SQLite file in DATA_DIR)"
    try:
        probe_database(url, PROBE_TIMEOUT_S)
    except (PeeweeException, OSError, ValueError) as exc:
        raise StartupError(f"{name} {redact(url)}: {one_line(exc)}") from None


def _check_schema_and_keys(settings: Settings) -> int:
    """Refuse a database migrated by a newer Troupe; finish a key rotation that committed but did not
    swap its files; refuse a MASTER_KEY that would not open the stored secrets. (The node migrates the
    schema later: before migration 2 there is no rotation record, so nothing to check.) Returns the
    executor shard count: EXECUTOR_SHARDS, or unset what the data says (`app/deployment.data_shards`)."""
    url = settings.resolved_database_url
    connect_database(url)
    try:
        with db.connection_context():
            pending()
            shards = shard_count(settings)
            if settings.master_key:
                recorded = sealed_by()
                if recorded is not None and recorded != fingerprint(settings.master_key):
                    raise StartupError(f"MASTER_KEY is not the key that sealed the stored secrets (fingerprint "
                                       f"{recorded}): set the key the last `troupe keys rotate-master` made")
                return shards
            done = settle(settings.data_dir)
    except SchemaTooNew as exc:
        raise StartupError(f"DATABASE_URL {redact(url)}: {exc}") from None
    except RotationError as exc:
        raise StartupError(f"MASTER_KEY (DATA_DIR/master_key): {exc}") from None
    except (PeeweeException, OSError) as exc:
        raise StartupError(f"DATABASE_URL {redact(url)}: {one_line(exc)}") from None
    if done:
        log.warning("MASTER_KEY: %s", done)
    return shards


def _redis(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """The Redis URL the actors use, and the bundled server when this process started it."""
    if settings.redis_url:
        _ping(settings.redis_url, f"REDIS_URL {redact(settings.redis_url)}")
        return settings.redis_url, None
    bundled = EmbeddedRedis(settings.data_dir)
    if settings.role == "executor":  # the web node sharing DATA_DIR runs it
        _ping(bundled.url, f"REDIS_URL unset: the bundled Redis of the web node at {bundled.socket}")
        return bundled.url, None
    try:
        return bundled.start(), bundled
    except (RuntimeError, OSError) as exc:
        bundled.stop()
        raise StartupError(f"REDIS_URL unset: the bundled redis-server in {bundled.dir} did not start: "
                           f"{one_line(exc)}") from None


def _ping(url: str, what: str) -> None:
    client = connect_once(url, PROBE_TIMEOUT_S)
    try:
        client.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise StartupError(f"{what}: {one_line(exc)}") from None
    finally:
        client.close()

"""A Troupe node: the supervised actors one process runs, and what they need to run.

`ROLE=all` (the default) runs every actor in one process. `ROLE=web` runs the HTTP side's actors
(PriceFeed, Broadcaster, Gateway) and `ROLE=executor` runs executor shards only, so a deployment
can put the executors in their own processes. All nodes share one Redis and one database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.broadcaster import Broadcaster
from actors.executor import Executor, venue_for
from actors.gateway import Gateway
from actors.price_feed import PriceFeed, source_for
from actors.runtime import Runtime
from actors.supervisor import ChildSpec, Supervisor
from app.deployment import check_executor_shards
from app.domain.symbols import build_specs
from app.messages import Message
from app.messaging.names import Names
from app.persistence.db import db
from app.persistence.schema import init_database
from app.security.keystore import resolve_secrets
from app.security.vault import Vault
from settings import ConfigError, Settings

log = logging.getLogger("troupe")


def child_specs(runtime: Runtime) -> list[ChildSpec]:
    """The actors of this node's role, in start order (stopped in reverse)."""
    settings = runtime.settings
    specs: list[ChildSpec] = []
    if settings.role in ("all", "web"):
        specs.append(ChildSpec("price-feed", lambda: PriceFeed.start(runtime, source_for(runtime))))
    if settings.role in ("all", "executor"):
        for shard in settings.local_shards:  # a restart gets a fresh venue, as it gets a fresh actor
            specs.append(ChildSpec(f"executor-{shard}",
                                   lambda shard=shard: Executor.start(runtime, shard, venue_for(runtime, shard))))
    if settings.role in ("all", "web"):
        specs.append(ChildSpec("broadcaster", lambda: Broadcaster.start(runtime)))
        specs.append(ChildSpec("gateway", lambda: Gateway.start(runtime)))
    return specs


@dataclass
class Node:
    settings: Settings
    deliver: Callable[[list[Message]], None] = lambda messages: None
    give_up: Callable[[str], None] = lambda reason: None
    jwt_secret: str = field(default="", repr=False)
    vault: Vault | None = None
    runtime: Runtime | None = None
    supervisor: Supervisor | None = None
    redis_url: str = ""

    def start(self) -> None:
        """Blocking: secrets, database, then the supervised actors behind their barrier.

        Redis is running by now: the pre-flight (`app/preflight.py`) checked REDIS_URL or started
        the bundled server, which the process owns, not the node.
        """
        s = self.settings
        self.jwt_secret, master_key = resolve_secrets(s.data_dir, s.jwt_secret, s.master_key)
        self.vault = Vault(master_key)
        if not s.redis_url:
            raise ConfigError("REDIS_URL is not resolved: the pre-flight starts the bundled Redis and sets it")
        self.redis_url = s.redis_url
        init_database(s.resolved_database_url)
        check_executor_shards(s.executor_shards)
        specs = build_specs(s.symbols)
        if "binance" in (s.exchange, s.price_feed):
            from app.exchange.exchange_info import load_specs  # only then (its HTTP client)

            try:
                specs = load_specs(s.binance_api_url, s.data_dir, specs, s.binance_timeout_s)
            except (RuntimeError, ValueError) as exc:
                raise ConfigError(f"Binance: {exc}") from exc
        self.runtime = Runtime(s, self.redis_url, Names(s.stream_prefix), specs, self.vault, deliver=self.deliver)
        self.supervisor = Supervisor(child_specs(self.runtime), self.give_up)
        self.runtime.fatal = self.supervisor.fatal
        self.supervisor.start()
        log.debug("node %s (%s) ready: %s", s.node_name, s.role, ", ".join(self.supervisor.status()))

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        if db.obj is not None and not db.is_closed():
            db.close()

"""What every actor is given at start: settings, where Redis is, stream names, symbols, callbacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.domain.symbols import SymbolSpec
from app.messages import Message
from app.messaging.names import Names
from app.security.vault import Vault
from settings import Settings


@dataclass
class Runtime:
    settings: Settings
    redis_url: str
    names: Names
    specs: dict[str, SymbolSpec]
    vault: Vault
    # Called from the Broadcaster's thread with each batch of events for this node's browsers.
    deliver: Callable[[list[Message]], None] = lambda messages: None
    # Called when an actor hits an error no restart can heal (e.g. SystemExit in a handler).
    fatal: Callable[[str], None] = lambda reason: None

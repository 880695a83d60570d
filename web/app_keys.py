"""The aiohttp AppKeys (typed application keys): everything create_app wires together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from aiohttp import web

if TYPE_CHECKING:
    from actors.runtime import Runtime
    from actors.supervisor import Supervisor
    from app.market_data import MarketData
    from app.messaging.replies import ReplyRouter
    from app.security.tokens import TokenCache
    from app.security.vault import Vault
    from settings import Settings
    from web.api_key_auth import ApiKeyCache, KeyUse
    from web.auth_guard import AuthGuard
    from web.ratelimit import Limiter
    from web.ws_hub import WsHub
    from web.ws_slots import SocketSlots

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
SECRETS: web.AppKey[dict[str, str]] = web.AppKey("secrets")  # {"jwt": ...}
VAULT: web.AppKey[Vault] = web.AppKey("vault")
TOKENS: web.AppKey[TokenCache] = web.AppKey("tokens")
GUARD: web.AppKey[AuthGuard] = web.AppKey("guard")
API_KEYS: web.AppKey[ApiKeyCache] = web.AppKey("api_keys")
API_KEY_USES: web.AppKey[KeyUse] = web.AppKey("api_key_uses")
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis")
MARKET_DATA: web.AppKey[MarketData] = web.AppKey("market_data")
REPLIES: web.AppKey[ReplyRouter] = web.AppKey("replies")
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
SUPERVISOR: web.AppKey[Supervisor] = web.AppKey("supervisor")
HUB: web.AppKey[WsHub] = web.AppKey("hub")
DB_POOL: web.AppKey[ThreadPoolExecutor] = web.AppKey("db_pool")
CPU_POOL: web.AppKey[ThreadPoolExecutor] = web.AppKey("cpu_pool")
LIMITER: web.AppKey[Limiter] = web.AppKey("limiter")
WS_SLOTS: web.AppKey[SocketSlots] = web.AppKey("ws_slots")
STATE: web.AppKey[dict[str, Any]] = web.AppKey("state")  # {"failure": str | None, "on_fatal": ...}

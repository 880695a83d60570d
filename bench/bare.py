"""What bench/ceiling.py and bench/floor.py share: serving a bare aiohttp application on a free
loopback port, announcing it as one JSON line on stdout, until SIGINT/SIGTERM (under uvloop, as
Troupe serves)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web


async def _serve(app: web.Application, announce: dict[str, Any]) -> None:
    import signal

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"url": f"http://127.0.0.1:{runner.addresses[0][1]}", **announce}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def run(build: Callable[[], tuple[web.Application, dict[str, Any]]]) -> None:
    """Build the application (and what to announce beside its url) and serve it."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        app, announce = build()
        await _serve(app, announce)

    asyncio.run(main())

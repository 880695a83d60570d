"""Asking an actor from a handler: send a command to its mailbox, await the reply, answer with it."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from web.app_keys import REPLIES
from web.problems import PROBLEM_TYPE, Problem

COMMAND_TIMEOUT_S = 10.0


async def ask_actor(request: web.Request, stream: str, msg: Any, who: str, retry_hint: str = "") -> web.Response:
    """Send a command to an actor's mailbox and answer with its reply; 503 if it does not come."""
    try:
        reply = await request.app[REPLIES].ask(stream, msg, COMMAND_TIMEOUT_S)
    except TimeoutError:
        raise Problem(503, f"the {who} did not answer in time{retry_hint}", code="UNAVAILABLE",
                      headers={"Retry-After": "1"}) from None
    return json_body(reply.status, reply.body)


def json_body(status: int, body: dict[str, Any]) -> web.Response:
    """A reply that came from an actor: problems keep their content type."""
    if status >= 400:
        return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_TYPE)
    return web.json_response(body, status=status)
